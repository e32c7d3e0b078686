/* The accounts page's Test buttons: the test runs without leaving the page and its answer is shown under
   the account, with the account's status as the test left it. Without this script the form posts and
   the page comes back with the same answer. */
(function () {
  "use strict";

  function show(form, answer) {
    var card = form.closest(".account-card");
    var result = document.getElementById("test-" + form.dataset.account);
    result.className = "test-result result-" + answer.result;
    result.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = answer.result_text;
    result.appendChild(strong);
    result.appendChild(document.createTextNode(": " + answer.detail));
    var status = card.querySelector('[data-role="status"]');
    status.className = "status status-" + answer.status;
    status.textContent = answer.status_text;
    card.dataset.status = answer.status;
    var reason = card.querySelector('[data-role="reason"]');
    reason.hidden = answer.status !== "needs_reconnect";
    reason.textContent = answer.status_reason || "The platform refused its tokens: connect it again.";
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form.test-form")) {
      return;
    }
    event.preventDefault();
    if (form.dataset.busy) {
      return;  // one test at a time per account (not disabled: the button keeps the keyboard's focus)
    }
    form.dataset.busy = "yes";
    var result = document.getElementById("test-" + form.dataset.account);
    result.className = "test-result";
    result.textContent = "Testing…";
    window.postgate.send(form.action, {method: "POST"}).then(function (response) {
      if (!response.ok) {
        throw new Error("the console answered " + response.status + " " + response.statusText);
      }
      return response.json();
    }).then(function (answer) {
      show(form, answer);
    }).catch(function (error) {
      result.className = "test-result result-error";
      result.textContent = "The test did not run (" + error.message + "). Reload the page and try again.";
    }).then(function () {
      delete form.dataset.busy;
    });
  });
})();
