// Counter tablet service worker (scope /k): keeps the kiosk's files and an offline notice on
// the device. Pages and files come from the network first (so updates show at once) and from
// the cache when the network is gone; a page that cannot load shows the offline notice, which
// returns to the form by itself. Answers are never cached or queued here: a rating is sent
// when it is made, or the person sees that the tablet is offline.
"use strict";
var CACHE = "sipas-kiosk-1";
var KEEP = [
  "/k/offline",
  "/static/sipas.css",
  "/static/intake.css",
  "/static/kiosk.js",
  "/static/kiosk-icon-192.png"
];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE)
      .then(function (cache) { return cache.addAll(KEEP); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (name) { return name !== CACHE; })
          .map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var path = new URL(request.url).pathname;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () { return caches.match("/k/offline"); }));
  } else if (KEEP.indexOf(path) >= 0) {
    event.respondWith(
      fetch(request)
        .then(function (response) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
          return response;
        })
        .catch(function () { return caches.match(request); })
    );
  }
});
