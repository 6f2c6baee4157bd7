// Enumerator app service worker (scope /field): pages come from the network when there is
// one (and are kept), else from what the device kept: the day's list and its interview
// pages (cached by field.js), else a notice that the page was not kept. Posts are never
// touched here: field.js queues answers and sends them itself. When the network answers a
// page with the sign-in page, the kept pages (names, addresses) are deleted from the device.
"use strict";
var STATIC = "sipas-field-static-1";
var PAGES = "sipas-field-pages-1";
var KEEP = [
  "/field/offline",
  "/static/sipas.css",
  "/static/console.css",
  "/static/field.css",
  "/static/field.js"
];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(STATIC)
      .then(function (cache) { return cache.addAll(KEEP); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (name) {
          return name !== STATIC && name !== PAGES;
        }).map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

function fromNetwork(request) {
  return fetch(request).then(function (response) {
    if (response.redirected && new URL(response.url).pathname.indexOf("/sign-in") === 0) {
      caches.delete(PAGES);  // signed out: nothing personal stays on the device
      return response;
    }
    if (response.ok && response.type === "basic") {
      var copy = response.clone();
      caches.open(PAGES).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (request.mode === "navigate" && url.pathname.indexOf("/field") === 0) {
    event.respondWith(fromNetwork(request).catch(function () {
      return caches.match(request, { cacheName: PAGES }).then(function (hit) {
        return hit || caches.match("/field/offline", { cacheName: STATIC });
      });
    }));
  } else if (KEEP.indexOf(url.pathname) >= 0) {
    event.respondWith(
      fetch(request)
        .then(function (response) {
          var copy = response.clone();
          caches.open(STATIC).then(function (cache) { cache.put(request, copy); });
          return response;
        })
        .catch(function () { return caches.match(request, { cacheName: STATIC }); })
    );
  }
});
