// Drift charts: every <canvas data-drift-chart='{"feature", "labels", "training", "recent"}'> becomes a
// Chart.js bar chart of the share of inputs per bin, training against recent. The spec comes through a
// data-* attribute because the CSP forbids inline scripts. The panel brings this script with it, so it
// loads Chart.js itself when the page has not, and runs once however many panels are swapped in.
(function () {
  "use strict";

  var me = document.currentScript;
  if (window.csvaDrift) {
    window.csvaDrift.drawAll(document);
    return;
  }

  var waiting = [];

  function withChart(then) {
    if (typeof window.Chart !== "undefined") return then();
    waiting.push(then);
    if (waiting.length > 1) return;
    var src = me && me.dataset.chartjs;
    var existing = document.querySelector("script[src$='chart.umd.min.js']");
    var script = existing || document.createElement("script");
    script.addEventListener("load", function () {
      var queued = waiting;
      waiting = [];
      queued.forEach(function (fn) { fn(); });
    });
    if (!existing && src) {
      script.src = src;
      document.head.appendChild(script);
    }
  }

  function draw(canvas) {
    if (canvas.dataset.drawn) return;
    var spec;
    try {
      spec = JSON.parse(canvas.dataset.driftChart);
    } catch (err) {
      return;
    }
    canvas.dataset.drawn = "1";
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: [
          { label: "training", data: spec.training, backgroundColor: "rgba(1, 114, 173, 0.7)" },
          { label: "recent", data: spec.recent, backgroundColor: "rgba(217, 53, 38, 0.7)" },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: true, position: "bottom" } },
        scales: {
          x: { ticks: { autoSkip: true, maxRotation: 45 } },
          y: { beginAtZero: true, title: { display: true, text: "share of rows" } },
        },
      },
    });
  }

  function drawAll(root) {
    var canvases = (root || document).querySelectorAll("canvas[data-drift-chart]:not([data-drawn])");
    if (!canvases.length) return;
    withChart(function () { canvases.forEach(draw); });
  }

  window.csvaDrift = { drawAll: drawAll };
  drawAll(document);
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
