// Kiosk idle reset: after data-idle seconds without a touch or key, show a blank form again,
// so the next person never sees the previous person's answers. Works without it too.
(function () {
  "use strict";
  var body = document.getElementById("kiosk") || document.body;
  var seconds = parseInt(body.getAttribute("data-idle") || "0", 10);
  var home = body.getAttribute("data-home") || "/k";
  if (!seconds) { return; }
  var timer = null;
  function reset() { window.location.replace(home); }
  function arm() {
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(reset, seconds * 1000);
  }
  ["pointerdown", "keydown", "input", "scroll", "touchstart"].forEach(function (name) {
    document.addEventListener(name, arm, { passive: true });
  });
  arm();
}());
