/* The console's shared script (no page has inline script: the CSP allows only files from the console).
   Pages that change state without a full form POST use postgate.send(): fetch with the session cookie
   and the CSRF token in the X-CSRFToken header (the token is in <meta name="csrf-token">). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* fetch(url, options) from a console page: same-origin credentials, the CSRF header, and `json`
     (an object) sent as the JSON body. Resolves to the Response, as fetch does. */
  function send(url, options) {
    var opts = Object.assign({credentials: "same-origin"}, options || {});
    var headers = Object.assign({"Accept": "application/json", "X-CSRFToken": csrfToken()}, opts.headers || {});
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      headers["Content-Type"] = "application/json";
      delete opts.json;
    }
    opts.headers = headers;
    return fetch(url, opts);
  }

  /* The browser's time zone, for the server to show times in (shared/console/zone.py reads the
     cookie; a page's `?tz=` overrides it). Set on every page, so it follows the device. */
  function rememberZone() {
    var zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      return;
    }
    var cookie = "postgate-tz=" + zone;  // IANA names are cookie-safe: letters, digits, / _ + -
    if (/^[A-Za-z0-9_+\/-]+$/.test(zone) && document.cookie.split("; ").indexOf(cookie) < 0) {
      document.cookie = cookie + "; Path=/; Max-Age=31536000; SameSite=Lax; Secure";
    }
  }

  rememberZone();
  window.postgate = {csrfToken: csrfToken, send: send};
})();
