// Prediction panel: field errors (422) swap in place, and a scored file arrives as a download.
// Loaded as a static file: the CSP forbids inline scripts.
(function () {
  "use strict";

  function fromPanel(detail) {
    var origin = (detail.requestConfig && detail.requestConfig.elt) || detail.elt;
    return origin && origin.closest ? origin.closest("[data-prediction-panel], #predict") : null;
  }

  function fileName(disposition) {
    var match = /filename="?([^";]+)"?/.exec(disposition || "");
    return match ? match[1] : "predictions.csv";
  }

  function download(text, name, type) {
    var url = URL.createObjectURL(new Blob([text], { type: type || "text/csv" }));
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (!detail.xhr || !fromPanel(detail)) return;
    var xhr = detail.xhr;
    var disposition = xhr.getResponseHeader("Content-Disposition") || "";
    if (xhr.status < 300 && disposition.indexOf("attachment") !== -1) {
      detail.shouldSwap = false;
      var name = fileName(disposition);
      download(xhr.responseText, name, xhr.getResponseHeader("Content-Type"));
      var status = document.getElementById("score-result");
      if (status) {
        var note = document.createElement("p");
        note.id = "score-done";
        note.setAttribute("role", "status");
        note.textContent = "Scored " + (xhr.getResponseHeader("X-Rows-Scored") || "the") + " rows: " + name +
          " is downloading.";
        status.replaceChildren(note);
      }
      return;
    }
    if (xhr.status === 400 || xhr.status === 413 || xhr.status === 422) {
      detail.shouldSwap = true; // the answer is the form with its errors, or the error fragment
      detail.isError = false;
    }
  });

  // No answer at all: say so under the form that was sent.
  document.addEventListener("htmx:sendError", function (event) {
    if (!fromPanel(event.detail)) return;
    var target = document.getElementById(event.detail.elt.id === "score-form" ? "score-result" : "predict-single");
    if (!target) return;
    var message = document.createElement("p");
    message.className = "error-message";
    message.setAttribute("role", "alert");
    message.textContent = "The server could not be reached. Try again.";
    target.appendChild(message);
  });
})();
