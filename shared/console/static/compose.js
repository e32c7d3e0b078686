/* The composer (console/compose.html). Without this file the form still works: it posts whole, and
   "Check" shows the same checks. With it:
   - the form is checked while it is typed (debounced): POST compose/check answers every problem by
     form control and the checks panel's HTML (each platform's own rules and preview, from the server);
   - files are uploaded from the browser straight to the media bucket: POST compose/upload answers a
     V4 signed URL, the file is PUT there with exactly the headers it was signed with, and its gs:// URI
     goes into the Video or Images field;
   - the time zone is the browser's, and a target's choices show only while it is chosen. */
(function () {
  "use strict";

  var DEBOUNCE_MS = 400;
  var form = document.getElementById("compose-form");
  if (!form || !window.postgate) { return; }
  var checks = document.getElementById("checks");
  var timer = null;
  var sent = 0;       // checks asked for
  var shown = 0;      // the newest answer shown (an older one arriving late is dropped)
  var touched = false;

  function formBody() {
    var body = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") { body.append(name, value); }
    });
    return body;
  }

  function showProblems(problems) {
    var byControl = {};
    problems.forEach(function (p) {
      if (p.control) { (byControl[p.control] = byControl[p.control] || []).push(p.message); }
    });
    form.querySelectorAll("[data-error-for]").forEach(function (box) {
      var control = box.getAttribute("data-error-for");
      var messages = byControl[control] || [];
      box.textContent = messages.join(" ");
      var input = document.getElementById(box.id.replace(/-error$/, ""));
      if (input) {
        if (messages.length) { input.setAttribute("aria-invalid", "true"); }
        else { input.removeAttribute("aria-invalid"); }
      }
    });
  }

  function check() {
    var mine = ++sent;
    postgate.send(form.getAttribute("data-check-url"), {method: "POST", body: formBody()})
      .then(function (answer) {
        if (!answer.ok) { throw new Error("the check answered " + answer.status); }
        return answer.json();
      })
      .then(function (result) {
        if (mine < shown) { return; }
        shown = mine;
        showProblems(result.problems);
        checks.innerHTML = result.html;  // rendered by the server from the same template as the page's
      })
      .catch(function (error) {
        if (mine >= shown) { checks.textContent = "Could not check the form just now (" + error.message + ")."; }
      });
  }

  function soon() {
    touched = true;
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(check, DEBOUNCE_MS);
  }

  // -- uploads ---------------------------------------------------------------------------------
  var status = document.getElementById("upload-status");

  function say(text, failed) {
    var line = document.createElement("li");
    line.textContent = text;
    if (failed) { line.className = "failed"; }
    status.appendChild(line);
    return line;
  }

  function place(kind, uri) {
    if (kind === "video") {
      document.getElementById("f-video").value = uri;
    } else {
      var images = document.getElementById("f-images");
      images.value = (images.value.trim() ? images.value.trim() + "\n" : "") + uri;
    }
  }

  function upload(file) {
    var line = say("Uploading " + file.name + "…");
    var type = file.type || "application/octet-stream";
    return postgate.send(form.getAttribute("data-upload-url"),
                         {method: "POST", json: {filename: file.name, content_type: type, size: file.size}})
      .then(function (answer) {
        return answer.json().catch(function () { return {detail: "answer " + answer.status}; })
          .then(function (body) {
            if (!answer.ok) { throw new Error(body.detail || ("answer " + answer.status)); }
            return body;
          });
      })
      .then(function (signed) {
        // Cross-origin, no cookies: the signature in the URL is the only authority.
        return fetch(signed.url, {method: signed.method, headers: signed.headers, body: file, credentials: "omit"})
          .then(function (put) {
            if (!put.ok) { throw new Error("the bucket answered " + put.status); }
            place(signed.kind, signed.uri);
            line.textContent = file.name + " uploaded: " + signed.uri;
            line.setAttribute("data-uri", signed.uri);
          });
      })
      .catch(function (error) {
        line.textContent = file.name + " not uploaded: " + error.message;
        line.className = "failed";
      });
  }

  var picker = document.getElementById("f-upload");
  if (picker && window.fetch) {
    document.getElementById("upload").hidden = false;
    picker.addEventListener("change", function () {
      var files = Array.prototype.slice.call(picker.files);
      Promise.all(files.map(upload)).then(function () { picker.value = ""; soon(); });
    });
  }

  // -- targets and time zone -------------------------------------------------------------------
  function showOptions(box) {
    var options = document.getElementById("options-" + box.value);
    if (options) { options.hidden = !box.checked; }
  }
  form.querySelectorAll('input[name="target"]').forEach(function (box) {
    showOptions(box);
    box.addEventListener("change", function () { showOptions(box); });
  });

  var zone = document.getElementById("f-tz");
  if (zone && zone.getAttribute("data-browser-zone") === "true" && window.Intl) {
    var own = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (own) { zone.value = own; }
  }

  form.addEventListener("input", function (event) {
    if (event.target !== picker) { soon(); }
  });
  form.addEventListener("change", function (event) {
    if (event.target !== picker && (event.target.type === "checkbox" || event.target.tagName === "SELECT")) { soon(); }
  });
  if (form.querySelector('input[name="target"]:checked') && !touched) { soon(); }
})();
