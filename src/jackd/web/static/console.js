// The jackd console's only script: it refreshes the overview's live part and filters its
// tubes as you type. It is served as a file, never inlined, so the page's
// Content-Security-Policy can forbid every inline script; and it never turns text into
// markup itself: the HTML it swaps in comes from the console, escaped there.
"use strict";

(function () {
  var FLASH_MS = 2500;

  function matcher(pattern) {
    // As jackd.observe.filter_tubes: a regular expression, or plain text if it is none.
    if (!pattern) return function () { return true; };
    try {
      var re = new RegExp(pattern);
      return function (name) { return re.test(name); };
    } catch (e) {
      return function (name) { return name.indexOf(pattern) !== -1; };
    }
  }

  function applyFilter(live, pattern) {
    var test = matcher(pattern);
    live.querySelectorAll("tr[data-tube]").forEach(function (row) {
      row.hidden = !test(row.getAttribute("data-tube"));
    });
  }

  function values(root) {
    var out = new Map();
    root.querySelectorAll("[data-k]").forEach(function (cell) {
      out.set(cell.getAttribute("data-k"), cell.textContent);
    });
    return out;
  }

  function refresh(live, filter) {
    var url = new URL(live.getAttribute("data-src"), window.location.href);
    url.searchParams.set("filter", filter ? filter.value : "");
    return fetch(url.toString(), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (!fresh) throw new Error("no live part in the answer");
        var before = values(live);
        live.replaceChildren.apply(live, Array.from(fresh.childNodes).map(function (node) {
          return document.adoptNode(node);
        }));
        live.querySelectorAll("[data-k]").forEach(function (cell) {
          var was = before.get(cell.getAttribute("data-k"));
          if (was !== undefined && was !== cell.textContent) {
            cell.classList.add("changed");
            window.setTimeout(function () { cell.classList.remove("changed"); }, FLASH_MS);
          }
        });
        applyFilter(live, filter ? filter.value : "");
        live.classList.remove("stale");
        live.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () {
        live.classList.add("stale");
      });
  }

  function start() {
    var live = document.getElementById("live");
    if (!live) return;
    var filter = document.getElementById("filter");
    var every = parseInt(live.getAttribute("data-refresh"), 10) || 2000;
    if (filter) {
      filter.addEventListener("input", function () {
        applyFilter(live, filter.value);
        var here = new URL(window.location.href);
        if (filter.value) here.searchParams.set("filter", filter.value);
        else here.searchParams.delete("filter");
        window.history.replaceState(null, "", here.toString());
      });
    }
    var busy = false;
    window.setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      refresh(live, filter).then(function () { busy = false; });
    }, every);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
