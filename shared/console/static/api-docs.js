/* The API's interactive documentation (/docs): Swagger UI (static/swagger-ui, vendored) on the API's own
   OpenAPI document. A file, not inline script: the page's CSP allows only the console's own files.
   The document names no server, so operations are sent beside it: deployed, the function's URL has a
   path prefix (/api) that Swagger UI would otherwise drop. */
(function () {
  "use strict";

  function start() {
    var root = document.getElementById("swagger-ui");
    var specUrl = new URL(root.dataset.specUrl, document.baseURI).href;
    fetch(specUrl, {credentials: "omit", headers: {"Accept": "application/json"}})
      .then(function (answer) {
        if (!answer.ok) { throw new Error("the document answered HTTP " + answer.status); }
        return answer.json();
      })
      .then(function (spec) {
        if (!spec.servers || !spec.servers.length) {
          spec.servers = [{url: new URL(".", specUrl).href.replace(/\/$/, ""), description: "this deployment"}];
        }
        root.textContent = "";
        window.ui = window.SwaggerUIBundle({
          spec: spec,
          domNode: root,
          // Deep links put a link inside each operation's expand button (a control inside a control).
          deepLinking: false,
          presets: [window.SwaggerUIBundle.presets.apis],
          layout: "BaseLayout",
          validatorUrl: null,
          persistAuthorization: false
        });
        nameTheServerChoice(root);
      })
      .catch(function (error) {
        root.textContent = "The API's description could not be loaded (" + error.message + "). It is at " + specUrl + ".";
      });
  }

  /* Swagger UI's server list has a visible title but no label a screen reader can tie to it; it is drawn
     (and may be drawn again) after the call returns, so it is named whenever it appears. */
  function nameTheServerChoice(root) {
    function name() {
      var servers = document.getElementById("servers");
      if (servers && !servers.hasAttribute("aria-label")) {
        servers.setAttribute("aria-label", "Server the operations are sent to");
      }
    }
    name();
    new MutationObserver(name).observe(root, {childList: true, subtree: true});
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
