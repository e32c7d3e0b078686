/* A bulk change's page (pages/catalogue_bulk.py): while the change is not finished, ask the page's small
   JSON endpoint (data-progress on #bulk-state) every few seconds and put its figures, status, wait and
   next run in place; stop once it is done or rejected and offer a reload for each video's outcome. */
(function () {
  "use strict";

  var state = document.getElementById("bulk-state");
  if (!state || !state.dataset.progress) {
    return;
  }
  var EVERY_MS = 4000;
  var note = document.getElementById("bulk-live");

  function setField(name, text) {
    var el = state.querySelector('[data-field="' + name + '"]');
    if (!el) {
      return;
    }
    var target = el.querySelector("span") || el;
    target.textContent = text || "";
    if (el.tagName === "P") {
      el.hidden = !text;
    }
  }

  function show(answer) {
    Object.keys(answer.progress).forEach(function (name) {
      var el = state.querySelector('[data-figure="' + name + '"]');
      if (el && el.textContent !== String(answer.progress[name])) {
        el.textContent = String(answer.progress[name]);
      }
    });
    var badge = state.querySelector('[data-field="status_text"]');
    if (badge) {
      badge.textContent = answer.status_text;
      badge.className = "state-badge state-" + answer.status;
    }
    setField("waiting_for", answer.waiting_for);
    setField("next_run", answer.next_run);
    state.dataset.status = answer.status;
    var decision = document.getElementById("bulk-decision");
    if (decision && answer.status !== "pending_approval") {
      decision.hidden = true;  // decided meanwhile (a link, the API, another page): the forms would be refused
    }
  }

  function poll() {
    fetch(state.dataset.progress, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        show(answer);
        if (answer.final) {
          if (note) {
            note.textContent = "Finished. Reload the page to see each video's outcome.";
          }
          return;
        }
        window.setTimeout(poll, EVERY_MS);
      })
      .catch(function () {
        if (note) {
          note.textContent = "Progress is not updating right now; reload the page to see it.";
        }
        window.setTimeout(poll, EVERY_MS * 3);
      });
  }

  window.setTimeout(poll, EVERY_MS);
})();
