// Join page: enter the room by itself when the waiting room sees the session go live, and tell the portal
// when the person leaves the room page (a beacon on pagehide). Everything also works without it.
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

  // 2. Leaving the room page records the leave: navigator.sendBeacon with the CSRF token in the form data.
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
