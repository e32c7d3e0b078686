/* The catalogue page, live: listens on the catalogue's stream (Server-Sent Events, the API's stream served
   under the console's session) and, when a refresh changed videos, fetches the page again (the same search)
   and swaps in its results, at most once a second. The search form is left as typed. */
(function () {
  "use strict";

  var RECONNECT_MS = 5000;
  var QUIET_MS = 1000;
  var note = document.getElementById("catalogue-live");
  if (!note || !window.EventSource || !window.DOMParser) {
    return;
  }
  var eventsUrl = note.dataset.events;
  var source = null;
  var timer = null;
  var changed = 0;

  function refresh() {
    timer = null;
    var count = changed;
    changed = 0;
    fetch(window.location.pathname + window.location.search, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error("HTTP " + answer.status);
        }
        return answer.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("catalogue-results");
        var old = document.getElementById("catalogue-results");
        if (fresh && old) {
          old.replaceWith(document.importNode(fresh, true));
        }
        note.textContent = "Updated " + new Date().toLocaleTimeString() + ": a refresh changed " + count +
          " video" + (count === 1 ? "" : "s") + ".";
      })
      .catch(function () {
        note.textContent = "Could not load the changes; reload the page.";
      });
  }

  function open() {
    if (source) {
      return;
    }
    source = new EventSource(eventsUrl);
    source.onopen = function () {
      note.dataset.live = "open";
    };
    source.addEventListener("videos", function (event) {
      var data = JSON.parse(event.data);
      changed += data.count || 0;
      if (!timer) {
        timer = window.setTimeout(refresh, QUIET_MS);
      }
    });
    source.addEventListener("end", function () {
      close();
      window.setTimeout(open, RECONNECT_MS);
    });
    source.onerror = function () {
      if (source && source.readyState === EventSource.CLOSED) {
        close();
        note.textContent = "Live updates stopped; reload the page to see changes.";
      }
    };
  }

  function close() {
    note.dataset.live = "closed";
    if (source) {
      source.close();
      source = null;
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      open();
    }
  });
  open();
}());
