// /api/docs: the API's OpenAPI document, rendered by the vendored Swagger UI. A file of its own because the
// portal's Content-Security-Policy allows scripts from 'self' only (no inline script).
(function () {
  "use strict";

  // "Try it out" from a signed-in browser rides on the session cookie: its writes need the page's CSRF token
  // (a request with a bearer token from "Authorize" carries no cookie credentials and needs none).
  function withCsrfToken(request) {
    var method = (request.method || "GET").toUpperCase();
    var headers = request.headers || {};
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && method !== "GET" && method !== "HEAD" && !headers.Authorization) {
      headers["X-CSRFToken"] = meta.getAttribute("content");
    }
    request.headers = headers;
    return request;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("swagger-ui");
    window.ui = window.SwaggerUIBundle({
      url: root.getAttribute("data-document-url"),
      domNode: root,
      deepLinking: true,
      validatorUrl: null, // never ask validator.swagger.io: the page talks to the portal only
      requestInterceptor: withCsrfToken,
    });
  });
})();
