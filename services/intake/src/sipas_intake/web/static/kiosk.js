// Counter tablet enhancements (the pages work without them):
// - idle reset: after data-idle seconds without a touch or key, show a blank form again, so
//   the next person never sees the previous person's answers;
// - the service worker that keeps the kiosk's files and an offline notice on the device;
// - a full-screen button when the page is not already running as an installed app.
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/k/sw.js", { scope: "/k" }).catch(function () {});
  }
  var kiosk = document.getElementById("kiosk");
  if (!kiosk) { return; }
  var full = kiosk.querySelector(".fullscreen");
  var standalone = window.matchMedia("(display-mode: fullscreen), (display-mode: standalone)");
  if (full && document.fullscreenEnabled && !standalone.matches && !document.fullscreenElement) {
    full.hidden = false;
    full.addEventListener("click", function () {
      document.documentElement.requestFullscreen().then(function () { full.hidden = true; })
        .catch(function () {});
    });
  }
  var seconds = parseInt(kiosk.getAttribute("data-idle") || "0", 10);
  var home = kiosk.getAttribute("data-home") || "/k";
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
