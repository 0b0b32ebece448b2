// FireMode: Swagger UI over the server's own /openapi.json.  The bearer
// token given under "Authorize" is kept in the browser's localStorage
// (persistAuthorization), so it survives reloads.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    displayRequestDuration: true,
    tryItOutEnabled: false,
    filter: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
};
