// Profile charts: every <canvas data-chart='{"type", "labels", "values", "label"}'> becomes a Chart.js bar
// chart. The spec comes through a data-* attribute because the CSP forbids inline scripts.
(function () {
  "use strict";

  var COLOUR = "rgba(1, 114, 173, 0.75)";

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof window.Chart === "undefined") return;
    var spec;
    try {
      spec = JSON.parse(canvas.dataset.chart);
    } catch (err) {
      return;
    }
    var histogram = spec.type === "histogram";
    var horizontal = spec.type === "bars" && spec.labels.length > 6;
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: [{ label: spec.label, data: spec.values, backgroundColor: COLOUR,
                     categoryPercentage: histogram ? 1.0 : 0.8, barPercentage: histogram ? 1.0 : 0.9 }],
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { ticks: { autoSkip: true, maxRotation: 45 } },
          y: { beginAtZero: true, ticks: { autoSkip: true } },
        },
      },
    });
    canvas.dataset.drawn = "1";
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
