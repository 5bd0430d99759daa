/* Charts of the experiments pages, drawn with Plotly from JSON data blocks.
   Loaded as a file (the Content-Security-Policy allows no inline script). */
(function () {
  "use strict";

  var PALETTE = ["#6b7280", "#1d4ed8", "#059669", "#d97706", "#7c3aed", "#db2777",
    "#0891b2", "#65a30d", "#dc2626", "#4338ca"];
  var FONT = 'system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", ' +
    '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif';

  function readData(element) {
    var source = document.getElementById(element.getAttribute("data-source"));
    return source ? JSON.parse(source.textContent) : null;
  }

  function cumulativeExposures(element) {
    var data = readData(element);
    if (!data || !window.Plotly) {
      return;
    }
    var treatment = 1;
    var traces = data.series.map(function (series) {
      var color = series.control ? PALETTE[0] : PALETTE[treatment++ % PALETTE.length];
      return {
        type: "scatter",
        mode: data.days.length > 1 ? "lines+markers" : "markers",
        name: series.name,
        x: data.days,
        y: series.values,
        line: { color: color, width: series.control ? 2 : 2.5, dash: series.control ? "dot" : "solid" },
        marker: { color: color, size: 6 },
        hovertemplate: series.name + ": %{y:,}<extra></extra>"
      };
    });
    var layout = {
      font: { family: FONT, size: 13, color: "#374151" },
      margin: { l: 56, r: 16, t: 40, b: 48 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      hovermode: "x unified",
      legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom" },
      xaxis: { title: { text: data.xTitle }, type: "date", tickformat: "%m-%d", hoverformat: "%Y-%m-%d", gridcolor: "#eef0f4" },
      yaxis: { title: { text: data.yTitle }, rangemode: "tozero", gridcolor: "#eef0f4", tickformat: ",d" }
    };
    element.textContent = "";
    window.Plotly.newPlot(element, traces, layout, { displayModeBar: false, responsive: true });
  }

  document.querySelectorAll("[data-source]#exposure-chart").forEach(cumulativeExposures);
})();
