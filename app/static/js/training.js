// Model charts: every <canvas data-training-chart='{...}'> becomes a Chart.js chart. Two spec types:
//   {"type": "roc", "curves": [{"class", "fpr": [...], "tpr": [...]}]}: one line per class and the chance diagonal;
//   {"type": "scatter", "x": "actual", "y": "predicted", "points": [{...}], "diagonal"|"zero_line": true}.
// Specs come through data-* attributes because the CSP forbids inline scripts; bar charts are charts.js's.
// Also keeps the job status polling through a failed request.
(function () {
  "use strict";

  var COLOURS = ["#0172ad", "#d93526", "#398712", "#9236a4", "#c47b00", "#017fc0", "#5d6b89", "#ad1457",
                 "#00897b", "#6d4c41"];
  var GUIDE = { borderColor: "rgba(120, 120, 120, 0.7)", borderDash: [6, 4], borderWidth: 1, pointRadius: 0,
                showLine: true, fill: false };

  function rocConfig(spec) {
    var datasets = spec.curves.map(function (curve, i) {
      return {
        label: spec.curves.length > 1 ? String(curve["class"]) + " vs rest" : "ROC",
        data: curve.fpr.map(function (x, j) { return { x: x, y: curve.tpr[j] }; }),
        borderColor: COLOURS[i % COLOURS.length], backgroundColor: COLOURS[i % COLOURS.length],
        showLine: true, pointRadius: 0, borderWidth: 2, fill: false,
      };
    });
    datasets.push(Object.assign({ label: "chance", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }, GUIDE));
    return {
      type: "scatter",
      data: { datasets: datasets },
      options: axes("False positive rate", "True positive rate", { min: 0, max: 1 }, { min: 0, max: 1 }),
    };
  }

  function scatterConfig(spec) {
    var points = spec.points.map(function (p) { return { x: p[spec.x], y: p[spec.y] }; });
    var datasets = [{ label: spec.y + " against " + spec.x, data: points, pointRadius: 3,
                      backgroundColor: "rgba(1, 114, 173, 0.55)" }];
    var xs = points.map(function (p) { return p.x; });
    var lo = Math.min.apply(null, xs), hi = Math.max.apply(null, xs);
    if (spec.diagonal) {
      var ys = points.map(function (p) { return p.y; });
      lo = Math.min(lo, Math.min.apply(null, ys));
      hi = Math.max(hi, Math.max.apply(null, ys));
      datasets.push(Object.assign({ label: "perfect prediction", data: [{ x: lo, y: lo }, { x: hi, y: hi }] }, GUIDE));
    }
    if (spec.zero_line) {
      datasets.push(Object.assign({ label: "no error", data: [{ x: lo, y: 0 }, { x: hi, y: 0 }] }, GUIDE));
    }
    return { type: "scatter", data: { datasets: datasets }, options: axes(spec.x, spec.y, {}, {}) };
  }

  function axes(xTitle, yTitle, x, y) {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: true, position: "bottom" } },
      scales: {
        x: Object.assign({ type: "linear", title: { display: true, text: xTitle } }, x),
        y: Object.assign({ type: "linear", title: { display: true, text: yTitle } }, y),
      },
    };
  }

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof window.Chart === "undefined") return;
    var spec;
    try {
      spec = JSON.parse(canvas.dataset.trainingChart);
    } catch (err) {
      return;
    }
    var config = spec.type === "roc" ? rocConfig(spec) : spec.type === "scatter" ? scatterConfig(spec) : null;
    if (!config) return;
    new window.Chart(canvas, config);
    canvas.dataset.drawn = "1";
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-training-chart]").forEach(draw);
  }

  // A poll of the job status that fails (a busy or restarting server) would stop the polling: try again
  // in a few seconds instead. The job's state is in the database, so nothing is lost meanwhile.
  function retryPoll(event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || elt.id !== "job-status" || !elt.getAttribute("hx-get") || !window.htmx) return;
    window.setTimeout(function () {
      if (document.body.contains(elt)) {
        window.htmx.ajax("GET", elt.getAttribute("hx-get"), { source: elt, target: elt, swap: "outerHTML" });
      }
    }, 3000);
  }
  document.addEventListener("htmx:responseError", retryPoll);
  document.addEventListener("htmx:sendError", retryPoll);

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
