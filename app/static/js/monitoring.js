// Monitoring charts: every <canvas data-monitoring-chart='{"type", "labels", "series": [{"label", "values"}]}'>
// becomes a Chart.js chart: "traffic" draws requests as bars and 4xx/5xx as lines, "latency" draws one line
// per percentile (milliseconds, gaps where a minute had no request). Specs come through data-* attributes
// because the CSP forbids inline scripts.
(function () {
  "use strict";

  var COLOURS = { requests: "rgba(1, 114, 173, 0.6)", "4xx": "#c47b00", "5xx": "#d93526",
                  p50: "#398712", p95: "#0172ad", p99: "#9236a4" };

  function dataset(series, type) {
    var colour = COLOURS[series.label] || "#5d6b89";
    var bar = type === "traffic" && series.label === "requests";
    return {
      type: bar ? "bar" : "line", label: series.label, data: series.values,
      backgroundColor: colour, borderColor: colour, borderWidth: bar ? 0 : 2,
      pointRadius: 0, spanGaps: false, fill: false, order: bar ? 2 : 1,
    };
  }

  function config(spec) {
    return {
      type: spec.type === "traffic" ? "bar" : "line",
      data: { labels: spec.labels, datasets: spec.series.map(function (s) { return dataset(s, spec.type); }) },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: true, position: "bottom" } },
        scales: {
          x: { ticks: { autoSkip: true, maxTicksLimit: 12, maxRotation: 0 } },
          y: { beginAtZero: true, title: { display: true, text: spec.type === "latency" ? "ms" : "per minute" } },
        },
      },
    };
  }

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof window.Chart === "undefined") return;
    var spec;
    try {
      spec = JSON.parse(canvas.dataset.monitoringChart);
    } catch (err) {
      return;
    }
    if (!spec || !spec.labels || !spec.series) return;
    new window.Chart(canvas, config(spec));
    canvas.dataset.drawn = "1";
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-monitoring-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
