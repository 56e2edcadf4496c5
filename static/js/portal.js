// Training Portal: the little JavaScript the pages use. Everything works without it; this only makes it nicer.
(function () {
  "use strict";

  // 1. Tell the server the browser's time zone, so signed-out visitors see times in their own zone. On a first
  //    visit the server could only guess: a GET page shown in another zone is reloaded once, in the right one.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var cookie = "tz=" + encodeURIComponent(zone);
    if (zone && document.cookie.split("; ").indexOf(cookie) === -1) {
      document.cookie = cookie + "; path=/; max-age=31536000; samesite=lax";
      var root = document.documentElement;
      var stored = document.cookie.split("; ").indexOf(cookie) !== -1;
      if (stored && root.getAttribute("data-tz-source") === "browser" && root.getAttribute("data-method") === "GET"
          && root.getAttribute("data-viewer-tz") !== zone && !sessionStorage.getItem("portal-tz-reloaded")) {
        sessionStorage.setItem("portal-tz-reloaded", "1");
        location.reload();
      }
    }
  } catch (e) { /* no Intl or no storage: the server's default zone is used */ }

  // 2. Countdowns tick every second between polls: <span data-countdown-to="ISO">..</span>.
  function format(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600),
        m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    if (d) return d + " d " + h + " h";
    if (h) return h + " h " + two(m) + " min";
    if (m) return m + " min " + two(s) + " s";
    return s + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown-to]").forEach(function (el) {
      var target = Date.parse(el.getAttribute("data-countdown-to"));
      if (!isNaN(target)) el.textContent = format((target - now) / 1000);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);

  // 3. Join panels poll with the ETags of what the page shows, so an unchanged answer is a bodiless 304 and nothing
  //    on the page is touched (the focused button stays focused). A panel alone polls itself (its own ETag); a page
  //    of panels has one poller ([data-panel-poller]) that sends the ETags of every panel on the page and gets back
  //    only the changed ones, swapped in out of band. Countdowns tick from their data-countdown-to meanwhile (2.).
  function quoted(tag) { return '"' + tag + '"'; }
  document.addEventListener("htmx:configRequest", function (evt) {
    var elt = evt.detail.elt;
    if (evt.detail.verb !== "get" || !elt || !elt.getAttribute) return;
    var tags = [];
    if (elt.hasAttribute("data-panel-poller")) {
      document.querySelectorAll(".join-panel[data-etag]").forEach(function (panel) {
        tags.push(quoted(panel.getAttribute("data-etag")));
      });
    } else if (elt.classList.contains("join-panel") && elt.getAttribute("data-etag")) {
      tags.push(quoted(elt.getAttribute("data-etag")));
    }
    if (tags.length) evt.detail.headers["If-None-Match"] = tags.join(", ");
  });
  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.detail.xhr && evt.detail.xhr.status === 304) { evt.detail.shouldSwap = false; return; }
    // A join panel is morphed (idiomorph), not replaced: the button a keyboard user is on stays the same element,
    // so it keeps focus (and a screen reader its place) through polls and after "Reserve a seat".
    var target = evt.detail.target;
    if (window.Idiomorph && target && target.classList && target.classList.contains("join-panel")) {
      evt.detail.swapOverride = "morph";
    }
  });
  document.addEventListener("htmx:oobBeforeSwap", function (evt) {
    // The out-of-band panels of a page's poll, and its poller: morphed the same way (the poller keeps its timer
    // unless its request changes).
    var target = evt.detail.target, fragment = evt.detail.fragment;
    if (!window.Idiomorph || !target || !target.classList) return;
    if (!target.classList.contains("join-panel") && !target.hasAttribute("data-panel-poller")) return;
    var incoming = fragment && fragment.firstElementChild;
    if (!incoming || incoming.id !== target.id) return;
    evt.detail.shouldSwap = false;
    var before = panelState(target);
    Idiomorph.morph(target, incoming, { morphStyle: "outerHTML" });
    if (window.htmx) htmx.process(target);
    announceChange(target, before);
  });

  // 3b. The important changes of a panel are announced once (aria-live="polite"), not every tick of its countdown:
  //     "Joining opens now", "Live now", the session ended or was canceled.
  function announcer() {
    var region = document.getElementById("panel-announcer");
    if (!region) {
      region = document.createElement("div");
      region.id = "panel-announcer";
      region.className = "sr-only";
      region.setAttribute("aria-live", "polite");
      region.setAttribute("role", "status");
      document.body.appendChild(region);
    }
    return region;
  }
  function announce(text) {
    var region = announcer();
    region.textContent = "";
    setTimeout(function () { region.textContent = text; }, 50);
  }
  function panelState(panel) {
    var badge = panel.querySelector(".panel-status .badge");
    return { open: panel.classList.contains("is-open"), live: panel.classList.contains("is-live"),
             status: badge ? badge.textContent.trim() : "" };
  }
  function panelTitle(panel) {
    var title = panel.querySelector("#" + CSS.escape(panel.id) + "-title");
    return title ? title.textContent.trim().replace(/^Joining\s+/, "") : "";
  }
  function announceChange(panel, before) {
    var after = panelState(panel), title = panelTitle(panel), text = "";
    if (after.live && !before.live) text = "Live now";
    else if (after.open && !before.open) text = "Joining opens now";
    else if (after.status && before.status && after.status !== before.status) text = after.status;
    if (text) announce(title ? text + ": " + title + "." : text + ".");
  }
  var panelBefore = null;
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    panelBefore = target && target.classList && target.classList.contains("join-panel") ? panelState(target) : null;
  });
  document.addEventListener("htmx:afterSwap", function (evt) {
    var target = evt.detail.target;
    if (target && target.classList && target.classList.contains("join-panel") && target.isConnected) {
      // a morphed panel's forms now post elsewhere (Reserve -> Cancel): rebind them now, not after the settle delay
      if (window.htmx) htmx.process(target);
      if (panelBefore) announceChange(target, panelBefore);
    }
    panelBefore = null;
  });

  // 3c. Tables fit a phone: each body cell gets its column's header as data-label, and the CSS (portal.css) shows a
  //     row as "header: value" lines below 640 px. Display changes can drop a table's semantics, so its roles are
  //     said explicitly. A table that still scrolls inside its .table-wrap makes that box keyboard-scrollable.
  function stackTables(root) {
    (root || document).querySelectorAll("table").forEach(function (table) {
      if (table.classList.contains("stacks") || table.hasAttribute("data-no-stack")) return;
      var head = table.tHead && table.tHead.rows[0];
      if (!head) return;
      var labels = [];
      Array.prototype.forEach.call(head.cells, function (cell) {
        for (var i = 0; i < (cell.colSpan || 1); i++) labels.push(cell.textContent.trim());
      });
      table.setAttribute("role", "table");
      Array.prototype.forEach.call(table.querySelectorAll(":scope > thead, :scope > tbody"), function (group) {
        group.setAttribute("role", "rowgroup");
      });
      Array.prototype.forEach.call(head.cells, function (cell) { cell.setAttribute("role", "columnheader"); });
      head.setAttribute("role", "row");
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          row.setAttribute("role", "row");
          var column = 0;
          Array.prototype.forEach.call(row.cells, function (cell) {
            cell.setAttribute("role", cell.tagName === "TH" ? "rowheader" : "cell");
            if (cell.colSpan === 1 && labels[column] && !cell.hasAttribute("data-label")) {
              cell.setAttribute("data-label", labels[column]);
            }
            column += cell.colSpan || 1;
          });
        });
      });
      table.classList.add("stacks");
    });
    (root || document).querySelectorAll(".table-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      if (scrolls && !wrap.hasAttribute("tabindex")) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        var caption = wrap.querySelector("caption");
        wrap.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table (scrolls sideways)");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { stackTables(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { stackTables(evt.detail.elt); });

  // 4. htmx error responses are shown, not swallowed.
  function toast(message) {
    var region = document.querySelector(".toast-region");
    if (!region) {
      region = document.createElement("div");
      region.className = "toast-region";
      region.setAttribute("aria-live", "assertive");
      document.body.appendChild(region);
    }
    var box = document.createElement("div");
    box.className = "flash flash-error";
    box.setAttribute("role", "alert");
    box.textContent = message;
    region.appendChild(box);
    setTimeout(function () { box.remove(); }, 8000);
  }
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr, text = "";
    try {
      var holder = document.createElement("div");
      holder.innerHTML = xhr.responseText;
      var alert = holder.querySelector("[role=alert]");
      text = alert ? alert.textContent.trim() : "";
    } catch (e) { /* fall through */ }
    toast(text || ("The server answered " + xhr.status + ". Please try again."));
  });
  document.addEventListener("htmx:sendError", function () {
    toast("The portal could not be reached. Check your connection; the page keeps trying.");
  });
})();
