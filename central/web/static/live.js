// Live events: one EventSource on the stream of the page's filter; each
// event becomes a row at the top of the table. Text only (no HTML from the
// server), at most 200 rows.
(function () {
  "use strict";
  var body = document.getElementById("live-events");
  var status = document.getElementById("live-status");
  if (!body || !window.EventSource) {
    if (status) status.textContent = "this browser cannot show live events";
    return;
  }
  var es = new EventSource(body.getAttribute("data-stream"));
  es.onopen = function () { status.textContent = "live"; };
  es.onerror = function () { status.textContent = "reconnecting…"; };
  es.addEventListener("session-ended", function () {
    es.close();
    status.textContent = "session ended — reload the page to log in again";
  });
  es.addEventListener("door-event", function (m) {
    var e = JSON.parse(m.data);
    var tr = document.createElement("tr");
    tr.className = (e.alarm ? "alarm" : e.denied ? "denied" : e.granted ? "granted" : "") + " fresh";
    tr.setAttribute("data-door", e.door);
    tr.setAttribute("data-seq", String(e.seq));
    var cells = [e.time + (e.trusted ? "" : " (clock?)"), e.door_name, e.what, e.reason_text || "—", e.uid || "—", e.member || "—"];
    for (var i = 0; i < cells.length; i++) {
      var td = document.createElement("td");
      td.textContent = cells[i];
      tr.appendChild(td);
    }
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > 200) body.deleteRow(body.rows.length - 1);
  });
})();
