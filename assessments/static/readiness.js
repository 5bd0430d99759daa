/* AI-readiness charts, drawn with Plotly from JSON data blocks
   (<script type="application/json">: data, not script, under the CSP).
   .readiness-heatmap: one heat map per dimension, teams × quarters, 0–100.
   .readiness-trend: a person's three dimensions across quarters. */
(function () {
  "use strict";

  var FONT = 'system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", ' +
    '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  var CONFIG = { displayModeBar: false, responsive: true };
  var COLORS = ["#1d4ed8", "#059669", "#d97706"];
  /* Low red, middle amber, high green; light enough for dark cell text. */
  var SCALE = [[0, "#f87171"], [0.5, "#fde68a"], [1, "#4ade80"]];

  function data(element) {
    var source = document.getElementById(element.getAttribute("data-source"));
    return source ? JSON.parse(source.textContent) : null;
  }

  function narrow() {
    return window.matchMedia("(max-width: 700px)").matches;
  }

  function heatmaps(element) {
    var panels = data(element);
    if (!panels || !window.Plotly) {
      return;
    }
    var boxes = element.querySelectorAll(".readiness-heat-panel");
    panels.forEach(function (panel, index) {
      var box = boxes[index];
      if (!box) {
        return;
      }
      var trace = {
        type: "heatmap",
        x: panel.x,
        y: panel.y,
        z: panel.z,
        text: panel.text,
        customdata: panel.hover,
        texttemplate: "%{text}",
        textfont: { size: 15, color: "#111827" },
        hovertemplate: "%{customdata}<extra></extra>",
        colorscale: SCALE,
        zmin: 0,
        zmax: 100,
        xgap: 3,
        ygap: 3,
        hoverongaps: false,
        /* No colour bar: Plotly styles it inline, which the CSP refuses; the
           values are printed in the cells. */
        showscale: false
      };
      var layout = {
        title: { text: panel.title, font: { size: 14 }, x: 0, xanchor: "left" },
        font: { family: FONT, size: 12, color: "#374151" },
        paper_bgcolor: "rgba(0,0,0,0)",
        plot_bgcolor: "rgba(0,0,0,0)",
        margin: { l: 8, r: 8, t: 36, b: 28 },
        height: 90 + 46 * panel.y.length,
        xaxis: { type: "category", side: "bottom", ticks: "", fixedrange: true },
        yaxis: { type: "category", autorange: "reversed", automargin: true, fixedrange: true,
          ticks: "", showticklabels: index === 0 || narrow() }
      };
      box.textContent = "";
      window.Plotly.newPlot(box, [trace], layout, CONFIG);
    });
  }

  function trend(element) {
    var chart = data(element);
    if (!chart || !window.Plotly) {
      return;
    }
    var traces = chart.series.map(function (series, index) {
      var trace = {
        type: "scatter",
        mode: "lines+markers",
        name: series.name,
        x: chart.x,
        y: series.values,
        connectgaps: false,
        marker: { color: COLORS[index % COLORS.length], size: 8 },
        line: { color: COLORS[index % COLORS.length], width: 2.5 },
        hovertemplate: series.name + ": %{y:.0f}<extra></extra>"
      };
      if (series.low) {
        trace.error_y = {
          type: "data",
          symmetric: false,
          array: series.high.map(function (high, i) {
            return high === null || series.values[i] === null ? null : high - series.values[i];
          }),
          arrayminus: series.low.map(function (low, i) {
            return low === null || series.values[i] === null ? null : series.values[i] - low;
          }),
          color: COLORS[index % COLORS.length],
          thickness: 1.2,
          width: 4
        };
      }
      return trace;
    });
    var layout = {
      font: { family: FONT, size: 13, color: "#374151" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      margin: { l: 48, r: 16, t: 40, b: 40 },
      height: 320,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      hovermode: "x unified",
      xaxis: { type: "category", fixedrange: true },
      yaxis: { title: { text: chart.y_title }, range: [0, 100], gridcolor: "#eef0f4",
        fixedrange: true }
    };
    element.textContent = "";
    window.Plotly.newPlot(element, traces, layout, CONFIG);
  }

  document.querySelectorAll(".readiness-heatmap[data-source]").forEach(heatmaps);
  document.querySelectorAll(".readiness-trend[data-source]").forEach(trend);
})();
