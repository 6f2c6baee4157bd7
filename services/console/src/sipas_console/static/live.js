/* Live regions: a page marks parts of itself with data-live="<event kinds>" and an id;
   when the server sends one of those events (GET /live/events, server-sent events), the
   page fetches itself again and swaps in the fresh content of those regions. Without
   JavaScript, or without EventSource, the page stays as it is and a reload shows the
   same thing: this only saves the reload. Focus stays where it was. */
(function () {
  "use strict";
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live][id]"));
  if (!regions.length || !("EventSource" in window) || !("fetch" in window)) return;
  var kinds = {};
  regions.forEach(function (region) {
    region.getAttribute("data-live").split(/\s+/).forEach(function (kind) {
      if (kind) kinds[kind] = true;
    });
  });
  var query = new URLSearchParams({ kinds: Object.keys(kinds).join(",") });
  var filter = document.querySelector("[data-live-campaign], [data-live-unit]");
  if (filter && filter.getAttribute("data-live-campaign")) {
    query.set("campaign", filter.getAttribute("data-live-campaign"));
  }
  if (filter && filter.getAttribute("data-live-unit")) {
    query.set("unit", filter.getAttribute("data-live-unit"));
  }
  var status = document.getElementById("live-status");
  var timer = null;
  var busy = false;

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var changed = false;
    regions.forEach(function (region) {
      var next = fresh.getElementById(region.id);
      if (!next || next.innerHTML === region.innerHTML) return;
      var focused = region.contains(document.activeElement) ? document.activeElement.id : "";
      region.innerHTML = next.innerHTML;
      changed = true;
      var again = focused && document.getElementById(focused);
      if (again) again.focus();
    });
    if (changed && status) {
      status.textContent = status.getAttribute("data-text") + " " + new Date().toLocaleTimeString();
    }
  }

  function refresh() {
    if (busy) { timer = setTimeout(refresh, 300); return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
      .then(function (answer) { return answer.ok ? answer.text() : ""; })
      .then(function (html) { if (html) swap(html); })
      .catch(function () { /* the next update tries again */ })
      .then(function () { busy = false; });
  }

  var source = new EventSource("/live/events?" + query.toString());
  Object.keys(kinds).forEach(function (kind) {
    source.addEventListener(kind, function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 150);
    });
  });
  source.addEventListener("open", function () {
    document.documentElement.setAttribute("data-live-connected", "");
  });
  window.addEventListener("pagehide", function () { source.close(); });
  // Regions whose figures move without an event the console hears (invitations) also
  // refresh every data-live-every seconds while the page is visible.
  regions.forEach(function (region) {
    var every = parseInt(region.getAttribute("data-live-every") || "0", 10);
    if (every > 0) {
      setInterval(function () { if (!document.hidden) refresh(); }, every * 1000);
    }
  });
})();
