// Join page: enter the room by itself when the waiting room sees the session go live, go to the ended page when
// the session ends, and tell the portal when the person leaves the room page (a beacon on pagehide). Everything
// also works without it.
(function () {
  "use strict";

  // 1. The waiting poller swaps in <form data-auto-submit> once the session is live: submit it (a real POST,
  //    so the room page arrives as a whole page with its own headers, and the token only in that response).
  function autoSubmit() {
    document.querySelectorAll("form[data-auto-submit]").forEach(function (form) {
      if (form.getAttribute("data-submitted")) return;
      form.setAttribute("data-submitted", "1");
      form.submit();
    });
  }
  document.addEventListener("htmx:afterSettle", autoSubmit);

  // 2. In the room: ask the panel (its ETag, so an unchanged answer is an empty 304) every ROOM_POLL_MS; once the
  //    session is over (ended or canceled, whoever ended it) or gone, go to its ended page. room-rtk.js goes there
  //    at once when the provider's meeting ends. Leaving the page sends the leave beacon (3.).
  var ROOM_POLL_MS = 4000;
  var FINAL_REASONS = { ended: true, canceled: true };
  document.addEventListener("DOMContentLoaded", function () {
    var room = document.querySelector("[data-ended-url][data-state-url]");
    if (!room || !window.fetch) return;
    var stateUrl = room.getAttribute("data-state-url");
    var endedUrl = room.getAttribute("data-ended-url");
    var etag = null;
    var leaving = false;
    function goToEnded() {
      if (leaving) return;
      leaving = true;
      var badge = document.getElementById("session-badge");
      if (badge) {
        badge.textContent = "Ended";
        badge.className = "badge ended";
      }
      window.location.assign(endedUrl);
    }
    function ask() {
      if (leaving) return;
      var headers = { "HX-Request": "true" };
      if (etag) headers["If-None-Match"] = etag;
      fetch(stateUrl, { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (response.status === 404) goToEnded();
          if (response.status !== 200) return null;
          etag = response.headers.get("ETag");
          return response.text();
        })
        .then(function (html) {
          var match = html && /data-reason="([a-z_]*)"/.exec(html);
          if (match && FINAL_REASONS[match[1]]) goToEnded();
        })
        .catch(function () {}); // offline for a moment: the next tick asks again
    }
    setInterval(ask, ROOM_POLL_MS);
  });

  // 3. Leaving the room page records the leave: navigator.sendBeacon with the CSRF token in the form data.
  document.addEventListener("DOMContentLoaded", function () {
    var room = document.querySelector("[data-leave-url]");
    if (!room || !navigator.sendBeacon) return;
    window.addEventListener("pagehide", function () {
      var data = new FormData();
      data.append("csrf_token", room.getAttribute("data-csrf") || "");
      navigator.sendBeacon(room.getAttribute("data-leave-url"), data);
    });
  });
})();
