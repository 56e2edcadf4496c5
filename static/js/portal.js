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
    if (evt.detail.xhr && evt.detail.xhr.status === 304) evt.detail.shouldSwap = false;
  });

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
