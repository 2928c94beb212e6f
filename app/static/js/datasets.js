// Dataset pages: upload card (drag and drop, progress bar), errors shown in place, auto-submitting selects.
// Loaded as a static file: the CSP forbids inline scripts.
(function () {
  "use strict";

  // htmx does not swap 4xx/5xx answers. Inside an element with data-error-target="#id", show the
  // error fragment the server sends in that element instead (data-error-swap picks the swap style).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (!detail.xhr || detail.xhr.status < 400) return;
    // The element that made the request (detail.elt is the swap target here, not the requester).
    var origin = (detail.requestConfig && detail.requestConfig.elt) || detail.elt;
    var host = origin && origin.closest ? origin.closest("[data-error-target]") : null;
    if (!host) return;
    var target = document.querySelector(host.dataset.errorTarget);
    if (!target) return;
    detail.shouldSwap = true;
    detail.isError = false;
    detail.target = target;
    detail.swapOverride = host.dataset.errorSwap || "innerHTML";
  });

  function showError(target, text) {
    var message = document.createElement("p");
    message.className = "error-message";
    message.setAttribute("role", "alert");
    message.textContent = text;
    target.replaceChildren(message);
  }

  // No answer at all (server down, connection cut): say so where errors go.
  document.addEventListener("htmx:sendError", function (event) {
    var origin = event.detail.elt;
    var host = origin && origin.closest ? origin.closest("[data-error-target]") : null;
    var target = host && document.querySelector(host.dataset.errorTarget);
    if (target) showError(target, "The server could not be reached (or the connection was cut). Try again.");
  });

  function uploadParts() {
    return {
      form: document.getElementById("upload-form"),
      bar: document.getElementById("upload-progress"),
      status: document.getElementById("upload-status"),
    };
  }

  // A real progress bar fed by the browser's upload progress events (htmx:xhr:progress).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var parts = uploadParts();
    if (!parts.form || event.target !== parts.form) return;
    var input = document.getElementById("upload-file");
    var limit = Number(parts.form.dataset.maxBytes || 0);
    var file = input && input.files && input.files[0];
    if (limit && file && file.size > limit) {
      // Refuse before sending: the server would stop reading and the browser show a cut connection.
      event.preventDefault();
      showError(document.getElementById("upload-result"), "This file is " + Math.ceil(file.size / 1048576) +
        " MB; the limit is " + Math.round(limit / 1048576) + " MB.");
      return;
    }
    parts.bar.value = 0;
    parts.bar.hidden = false;
    parts.status.textContent = "Uploading…";
    document.getElementById("upload-result").textContent = "";
  });
  document.addEventListener("htmx:xhr:progress", function (event) {
    var parts = uploadParts();
    if (!parts.form || event.target !== parts.form) return;
    var detail = event.detail;
    if (!detail.lengthComputable || !detail.total) return;
    var percent = Math.round((detail.loaded / detail.total) * 100);
    if (percent < parts.bar.value) return; // the answer's download also reports progress
    parts.bar.value = percent;
    parts.status.textContent = percent < 100 ? "Uploading… " + percent + " %" : "Reading the file and profiling it…";
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var parts = uploadParts();
    if (!parts.form || event.target !== parts.form) return;
    if (event.detail.failed || !event.detail.xhr || event.detail.xhr.status >= 400 || event.detail.xhr.status === 0) {
      parts.bar.hidden = true;
      parts.status.textContent = "";
    }
  });

  // Drag and drop onto the drop zone fills the file input.
  function showChosenFile(input) {
    var label = document.getElementById("drop-zone-file");
    if (label && input.files && input.files.length) label.textContent = input.files[0].name;
  }
  document.addEventListener("change", function (event) {
    if (event.target.id === "upload-file") showChosenFile(event.target);
    if (event.target.matches && event.target.matches("select[data-autosubmit]") && event.target.form) {
      event.target.form.requestSubmit();
    }
  });
  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var zone = event.target.closest && event.target.closest("#drop-zone");
      if (!zone) return;
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  document.addEventListener("dragleave", function (event) {
    var zone = event.target.closest && event.target.closest("#drop-zone");
    if (zone) zone.classList.remove("dragging");
  });
  document.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest("#drop-zone");
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("dragging");
    var input = document.getElementById("upload-file");
    if (input && event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      showChosenFile(input);
    }
  });
})();
