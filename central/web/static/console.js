// Learn mode: while the page waits for a badge at the door (#learn-wait),
// reload it every few seconds; the server answers with the badge once the
// door reported it, or says the minute has passed.
(function () {
  "use strict";
  var wait = document.getElementById("learn-wait");
  if (!wait) return;
  var s = parseInt(wait.getAttribute("data-reload"), 10) || 2;
  window.setTimeout(function () { window.location.reload(); }, s * 1000);
})();
