/* The approval queue: a decision form is sent with postgate.send() (JSON, the CSRF header) and the
   item is replaced in place by the server's HTML for it (the outcome, or the item as it is now with
   why nothing was recorded). Without this script the forms POST and the server answers 303 back to
   the queue with a status message: both ways record the same decision (shared/console/pages/queue.py). */
(function () {
  "use strict";

  /* The status region above the list (polite live region): what the last press did. */
  function announce(kind, text) {
    var region = document.getElementById("queue-status");
    if (!region) { return; }
    var box = document.createElement("div");
    box.className = "status status-" + kind;
    var p = document.createElement("p");
    p.textContent = text;
    box.appendChild(p);
    region.replaceChildren(box);
  }

  function setWaiting(count, summary) {
    var badge = document.getElementById("waiting-count");
    if (badge && typeof count === "number") {
      badge.dataset.count = String(count);
      badge.firstChild.nodeValue = String(count);
    }
    var line = document.getElementById("queue-summary");
    if (line && summary) { line.textContent = summary; }
  }

  function showFieldError(form, field, message) {
    var slot = form.querySelector('.field-error[data-field="' + field + '"]');
    var input = form.elements[field];
    if (slot && input) {
      slot.textContent = message;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return true;
    }
    return false;
  }

  function replaceItem(item, html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    var fresh = template.content.firstElementChild;
    item.replaceWith(fresh);
    var focus = fresh.querySelector("[data-focus]");
    if (focus) { focus.focus(); }
  }

  function submitted(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("decision")) { return; }
    event.preventDefault();
    var item = form.closest(".queue-item");
    var buttons = item.querySelectorAll("button");
    var fields = {};
    ["content_id", "content_hash", "action", "reason", "campaign", "account"].forEach(function (name) {
      if (form.elements[name]) { fields[name] = form.elements[name].value; }
    });
    buttons.forEach(function (b) { b.disabled = true; });
    announce("pending", fields.action === "approve" ? "Approving…" : "Rejecting…");
    window.postgate.send(form.getAttribute("action"), {method: "POST", json: fields})
      .then(function (response) {
        return response.json().then(function (body) { return {status: response.status, body: body}; },
                                    function () { return {status: response.status, body: null}; });
      })
      .then(function (answer) {
        var body = answer.body || {};
        buttons.forEach(function (b) { b.disabled = false; });
        if (body.item_html) {
          replaceItem(item, body.item_html);
          announce(body.outcome, body.title + ". " + body.message);
          setWaiting(body.waiting, body.summary);
        } else if (body.field && showFieldError(form, body.field, body.message)) {
          announce("invalid", body.message);
        } else {
          announce("refused", body.message ||
                   ("Not recorded: the console answered HTTP " + answer.status + ". Reload the page and try again."));
        }
      }, function () {
        buttons.forEach(function (b) { b.disabled = false; });
        announce("refused", "Not sent: the network failed. Nothing was recorded; try again.");
      });
  }

  document.addEventListener("submit", submitted);
})();
