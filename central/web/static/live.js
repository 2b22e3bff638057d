// Live events: one EventSource on the stream of the page's filter; each
// event becomes a row at the top of the table. Text only (no HTML from the
// server), at most 200 rows. The words come from the page (#live-text, in
// the page's language); the stream sends kinds and reason codes.
(function () {
  "use strict";
  var body = document.getElementById("live-events");
  var status = document.getElementById("live-status");
  var words = {};
  try { words = JSON.parse(document.getElementById("live-text").textContent); } catch (e) { words = {}; }
  function t(key, fallback) { return words[key] || fallback; }
  if (!body || !window.EventSource) {
    if (status) status.textContent = t("live.unsupported", "this browser cannot show live events");
    return;
  }
  var lang = document.documentElement.lang || "en";
  // The moment in the door's center's zone, in the page's language.
  function stamp(e) { return (e.stamps && e.stamps[lang]) || e.time; }
  var labels = [];
  var heads = body.parentNode.querySelectorAll("thead th");
  for (var h = 0; h < heads.length; h++) labels.push(heads[h].textContent);
  var es = new EventSource(body.getAttribute("data-stream"));
  es.onopen = function () { status.textContent = t("live.live", "live"); };
  es.onerror = function () { status.textContent = t("live.reconnecting", "reconnecting…"); };
  es.addEventListener("session-ended", function () {
    es.close();
    status.textContent = t("live.ended", "session ended — reload the page to log in again");
  });
  es.addEventListener("door-event", function (m) {
    var e = JSON.parse(m.data);
    var tr = document.createElement("tr");
    tr.className = (e.alarm ? "alarm" : e.denied ? "denied" : e.granted ? "granted" : "") + " fresh";
    tr.setAttribute("data-door", e.door);
    tr.setAttribute("data-seq", String(e.seq));
    var cells = [stamp(e) + (e.trusted ? "" : " " + t("events.clock_short", "(clock?)")), e.door_name,
      t("kind." + e.kind, e.what), e.reason ? t("reason." + e.reason, e.reason_text) : "—", e.uid || "—", e.member || "—"];
    for (var i = 0; i < cells.length; i++) {
      var td = document.createElement("td");
      td.textContent = cells[i];
      if (labels[i]) td.setAttribute("data-label", labels[i]);
      tr.appendChild(td);
    }
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > 200) body.deleteRow(body.rows.length - 1);
  });
})();
