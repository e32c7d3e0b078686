/* Sign in with Google on the console's sign-in page: Google's client library (loaded from
   accounts.google.com, as Google requires) draws its button; the ID token it hands back is POSTed to
   the console with the page's CSRF token, and the server verifies it. */
(function () {
  "use strict";
  var holder = document.getElementById("google-sign-in");
  var form = document.getElementById("google-credential");
  if (!holder || !form) { return; }

  function start() {
    if (!(window.google && google.accounts && google.accounts.id)) { return false; }
    google.accounts.id.initialize({
      client_id: holder.getAttribute("data-client-id"),
      ux_mode: "popup",
      callback: function (answer) {
        form.elements.credential.value = answer.credential;
        form.submit();
      }
    });
    google.accounts.id.renderButton(holder, {type: "standard", theme: "outline", size: "large", text: "signin_with"});
    return true;
  }

  if (!start()) {
    var library = document.getElementById("gsi-client");
    if (library) { library.addEventListener("load", start); }
  }
})();
