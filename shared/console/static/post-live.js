/* A post's page, live: listens on the content item's live-status stream (Server-Sent Events, the API's
   stream served under the console's session) and, when this post's status changes, fetches the page
   again and swaps in its "where it stands" section (status, reasons, timeline, platform link), its
   numbers, and the change forms once the post can no longer be changed. What was typed into an open form is kept. */
(function () {
  "use strict";

  var FINAL = {"all posts final": true, "no posts": true};
  var RECONNECT_MS = 5000;
  var first = document.getElementById("post-live");
  if (!first || !window.EventSource || !window.DOMParser) {
    return;
  }
  var postId = first.dataset.postId;
  var eventsUrl = first.dataset.events;
  var note = document.getElementById("live-note");
  var source = null;
  var fetching = false;
  var fetchAgain = false;

  function say(text) {
    if (note) {
      note.textContent = text;
    }
  }

  function shownStatus() {
    var live = document.getElementById("post-live");
    return live ? live.dataset.status : "";
  }

  function swap(doc, id) {
    var fresh = doc.getElementById(id);
    var old = document.getElementById(id);
    if (fresh && old) {
      old.replaceWith(document.importNode(fresh, true));
    }
  }

  function refresh() {
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    fetch(window.location.pathname + window.location.search, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error("HTTP " + answer.status);
        }
        return answer.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        swap(doc, "post-live");
        swap(doc, "post-numbers");
        var actions = doc.getElementById("post-actions");
        if (actions && actions.dataset.open === "false") {
          swap(doc, "post-actions");
        }
        var status = doc.getElementById("post-status");
        say(status ? "Updated: " + status.textContent + "." : "Updated.");
      })
      .catch(function () {
        say("The post changed; reload the page to see how.");
      })
      .then(function () {
        fetching = false;
        if (fetchAgain) {
          fetchAgain = false;
          refresh();
        }
      });
  }

  function connect() {
    source = new EventSource(eventsUrl);
    source.onopen = function () {
      var live = document.getElementById("post-live");
      if (live) {
        live.dataset.live = "open";  // listening (tests wait for it)
      }
    };
    source.addEventListener("post", function (event) {
      var data = JSON.parse(event.data);
      if (data.post_id === postId && data.status !== shownStatus()) {
        refresh();
      }
    });
    source.addEventListener("end", function (event) {
      source.close();
      var reason = JSON.parse(event.data).reason;
      if (!FINAL[reason]) {
        later();  // idle or at its time limit: listen again
      }
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {  // refused (too many streams, signed out): no retry
        say("Live updates stopped; reload the page to see changes.");
      }
    };
  }

  function later() {
    if (document.visibilityState === "hidden") {
      document.addEventListener("visibilitychange", function resume() {
        if (document.visibilityState !== "hidden") {
          document.removeEventListener("visibilitychange", resume);
          connect();
        }
      });
      return;
    }
    window.setTimeout(connect, RECONNECT_MS);
  }

  connect();
})();
