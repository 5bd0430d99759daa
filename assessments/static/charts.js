/* Chart stimuli of exam questions, drawn with Plotly from JSON data blocks
   (<script type="application/json">: data, not script, under the CSP). */
(function () {
  "use strict";

  var PALETTE = ["#1d4ed8", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2",
    "#65a30d", "#dc2626", "#4338ca", "#6b7280"];
  var FONT = 'system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", ' +
    '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  var CONFIG = { displayModeBar: false, responsive: true, staticPlot: false };

  function draw(element) {
    var source = document.getElementById(element.getAttribute("data-source"));
    if (!source || !window.Plotly) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var bar = data.chart === "bar";
    var traces = data.series.map(function (series, index) {
      var color = PALETTE[index % PALETTE.length];
      return {
        type: bar ? "bar" : "scatter",
        mode: bar ? undefined : "lines+markers",
        name: series.name,
        x: data.x,
        y: series.values,
        marker: { color: color },
        line: bar ? undefined : { color: color, width: 2.5 },
        hovertemplate: series.name + ": %{y:,}<extra></extra>"
      };
    });
    var layout = {
      font: { family: FONT, size: 13, color: "#374151" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      margin: { l: 56, r: 16, t: data.series.length > 1 ? 36 : 16, b: 48 },
      showlegend: data.series.length > 1,
      legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom" },
      barmode: "group",
      hovermode: "x unified",
      xaxis: { title: { text: data.x_title || "" }, type: "category", automargin: true },
      yaxis: { title: { text: data.y_title || "" }, rangemode: "tozero", gridcolor: "#eef0f4",
        automargin: true }
    };
    element.textContent = "";
    window.Plotly.newPlot(element, traces, layout, CONFIG);
  }

  document.querySelectorAll(".stimulus-chart[data-source]").forEach(draw);
})();
