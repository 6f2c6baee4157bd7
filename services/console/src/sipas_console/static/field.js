// Enumerator app, offline part (the pages work without it, online, as plain forms).
// - Interviews and outcomes (refused, unreachable) are queued on the device first, then sent
//   to /field/sync; anything that cannot be sent now stays queued and is sent when the
//   network is back (the "online" event, every 20 s, every page load). Each item carries an
//   id made once on the device, so sending it twice records it once.
// - The day's list and its interview pages are kept in the browser's cache (with the service
//   worker, /field/sw.js), so they open without a network.
// - What the server refuses for good (someone else already answered, a reserve the draw did
//   not bring in) is kept apart as a conflict and shown, never dropped silently.
(function () {
  "use strict";
  var QUEUE = "sipas-field-queue";
  var CONFLICTS = "sipas-field-conflicts";
  var PAGES = "sipas-field-pages-1";
  var RETRY_MS = 20000;
  var SOON_MS = 3000;
  var MAX_WAITS = 6;  // an invitation intake has still not heard of after this many tries
  var root = document.getElementById("field");

  function load(key) {
    try { return JSON.parse(window.localStorage.getItem(key) || "[]"); } catch (e) { return []; }
  }
  function save(key, list) { window.localStorage.setItem(key, JSON.stringify(list)); }
  function newId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return String(Date.now()) + "-" + String(Math.random()).slice(2);
  }
  function text(name) { return root ? (root.getAttribute("data-text-" + name) || "") : ""; }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/field/sw.js", { scope: "/field" }).catch(function () {});
  }

  // -- queue ------------------------------------------------------------------------------
  function enqueue(form, submitter) {
    var data = new FormData(form);
    var fields = {};
    data.forEach(function (value, name) {
      if (name !== "csrf") { fields[name] = String(value); }
    });
    if (submitter && submitter.name) { fields[submitter.name] = submitter.value; }
    var item = {
      kind: form.getAttribute("data-queue"),
      campaign: form.getAttribute("data-campaign"),
      invitation: form.getAttribute("data-invitation"),
      unit: form.getAttribute("data-unit"),
      stratum: form.getAttribute("data-stratum"),
      fields: fields,
      at: new Date().toISOString()
    };
    var queue = load(QUEUE);
    var same = queue.filter(function (i) {
      return i.kind === item.kind && i.invitation === item.invitation;
    })[0];
    if (same) {
      same.fields = item.fields;  // not sent yet: the latest answers win
      same.at = item.at;
    } else {
      item.id = newId();
      queue.push(item);
    }
    save(QUEUE, queue);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.getAttribute || !form.getAttribute("data-queue")) { return; }
    event.preventDefault();
    enqueue(form, event.submitter);
    var back = form.getAttribute("data-return") || "/field";
    sync().then(function () { window.location.assign(back); });
  });

  // -- sending ----------------------------------------------------------------------------
  var sending = null;
  var noNetwork = false;  // the last try failed: no network, whatever navigator.onLine says
  function sync() {
    if (sending) { return sending; }
    var queue = load(QUEUE);
    if (!queue.length || !root) { show(); return Promise.resolve(); }
    if (!navigator.onLine) { noNetwork = true; show(); return Promise.resolve(); }  // sure: no try
    var body = new URLSearchParams();
    body.set("csrf", root.getAttribute("data-csrf") || "");
    body.set("items", JSON.stringify(queue));
    sending = window.fetch(root.getAttribute("data-sync") || "/field/sync", {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (response) {
      noNetwork = false;
      if (response.type === "opaqueredirect" || response.status === 401 ||
          response.status === 403) {
        setStatus(text("signin"), true);
        return null;
      }
      if (!response.ok) { return null; }
      return response.json();
    }).then(function (answer) {
      if (answer) { settle(answer.results || []); }
    }).catch(function () {
      noNetwork = true;  // no network: everything stays queued
    }).then(function () {
      sending = null;
      show();
    });
    return sending;
  }

  function settle(results) {
    var byId = {};
    results.forEach(function (r) { byId[r.id] = r; });
    var conflicts = load(CONFLICTS);
    var again = false;
    var kept = load(QUEUE).filter(function (item) {
      var result = byId[item.id];
      if (result && result.status === "retry") {
        item.tries = (item.tries || 0) + 1;
        again = true;
        if (item.tries < MAX_WAITS) { return true; }
        result = { status: "conflict", message: result.message };
      }
      if (!result) { return true; }
      if (result.status === "conflict") {
        conflicts.push({ item: item, message: result.message, at: new Date().toISOString() });
      }
      return false;  // done, already recorded, or a conflict kept apart
    });
    save(QUEUE, kept);
    save(CONFLICTS, conflicts);
    if (again && kept.length) { window.setTimeout(sync, SOON_MS); }
  }

  // -- what the list shows ----------------------------------------------------------------
  function setStatus(message, warning) {
    var box = document.getElementById("sync-status");
    if (!box) { return; }
    box.textContent = message;
    box.hidden = !message;
    box.className = "notice" + (warning ? " warning" : "");
  }

  function mark(row, label) {
    var cell = row.querySelector("[data-state-cell]");
    if (cell && label) { cell.textContent = label; }
  }

  function activateReserves(queue) {
    // A refusal waiting to be sent brings in the next reserve of its unit and kind on the
    // device already, so the enumerator can go on; the server confirms it when it is sent.
    queue.filter(function (i) { return i.kind === "outcome"; }).forEach(function (outcome) {
      var next = document.querySelector(
        '.person[data-state="standby"][data-unit="' + outcome.unit + '"][data-stratum="' +
        outcome.stratum + '"]:not([data-activated])');
      if (!next) { return; }
      next.setAttribute("data-activated", "1");
      mark(next, text("activated"));
      var link = next.querySelector("a[data-interview]");
      if (link) { link.hidden = false; }
    });
  }

  function show() {
    if (!root) { return; }
    var queue = load(QUEUE);
    var conflicts = load(CONFLICTS);
    queue.forEach(function (item) {
      var row = document.querySelector('.person[data-invitation="' + item.invitation + '"]');
      if (row) { mark(row, text(item.kind === "outcome" ? "outcome-queued" : "queued")); }
    });
    activateReserves(queue);
    var message = "";
    if (queue.length) {
      var online = navigator.onLine && !noNetwork;
      message = (online ? text("sending") : text("offline")).replace(
        "{n}", String(queue.length));
    }
    setStatus(message, false);
    var list = document.getElementById("conflicts");
    if (list) {
      list.hidden = !conflicts.length;
      var items = list.querySelector("ul");
      items.textContent = "";
      conflicts.forEach(function (c) {
        var li = document.createElement("li");
        li.textContent = (c.item.fields.dossier || c.item.invitation) + ": " + c.message;
        items.appendChild(li);
      });
    }
  }

  // -- keeping the day's pages on the device ------------------------------------------------
  function keepPages() {
    // One page at a time, only those the device does not have yet (the service worker
    // refreshes a kept page whenever it is opened with a network).
    if (!root || !("caches" in window) || !navigator.onLine) { return; }
    var urls = [window.location.pathname];
    document.querySelectorAll("a[data-interview]").forEach(function (a) {
      urls.push(a.getAttribute("href"));
    });
    window.caches.open(PAGES).then(function (cache) {
      return urls.reduce(function (previous, url) {
        return previous.then(function () {
          return cache.match(url).then(function (hit) {
            if (hit && url !== urls[0]) { return null; }  // the list itself: always afresh
            return window.fetch(url, { credentials: "same-origin", redirect: "manual" })
              .then(function (response) { if (response.ok) { return cache.put(url, response); } });
          });
        }).catch(function () {});
      }, Promise.resolve());
    }).catch(function () {});
  }

  var dismiss = document.getElementById("conflicts-clear");
  if (dismiss) {
    dismiss.hidden = false;
    dismiss.addEventListener("click", function () { save(CONFLICTS, []); show(); });
  }
  window.addEventListener("online", function () { sync(); });
  window.addEventListener("offline", show);
  window.setInterval(function () { if (load(QUEUE).length) { sync(); } }, RETRY_MS);
  show();
  keepPages();
  sync();
}());
