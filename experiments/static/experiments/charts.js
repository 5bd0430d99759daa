/* Charts of the experiments pages, drawn with Plotly from JSON data blocks.
   Loaded as a file (the Content-Security-Policy allows no inline script). */
(function () {
  "use strict";

  var PALETTE = ["#6b7280", "#1d4ed8", "#059669", "#d97706", "#7c3aed", "#db2777",
    "#0891b2", "#65a30d", "#dc2626", "#4338ca"];
  /* Forest plot colours: significant in the desired direction, against it, neither. */
  var VERDICT_COLORS = { better: "#047857", worse: "#b91c1c", neutral: "#6b7280" };
  var FONT = 'system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", ' +
    '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  var CONFIG = { displayModeBar: false, responsive: true };

  function readData(element) {
    var source = document.getElementById(element.getAttribute("data-source"));
    return source ? JSON.parse(source.textContent) : null;
  }

  function baseLayout() {
    return {
      font: { family: FONT, size: 13, color: "#374151" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom" }
    };
  }

  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function signed(value) {
    return (value > 0 ? "+" : "") + value.toFixed(1) + "%";
  }

  /* At most ``width`` units of text, a CJK character counting two. */
  function shorten(text, width) {
    var used = 0;
    for (var i = 0; i < text.length; i++) {
      used += /[\u2e80-\u9fff\uff00-\uffef]/.test(text[i]) ? 2 : 1;
      if (used > width) {
        return text.slice(0, i - 1) + "…";
      }
    }
    return text;
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
    var layout = Object.assign(baseLayout(), {
      margin: { l: 56, r: 16, t: 40, b: 48 },
      hovermode: "x unified",
      xaxis: { title: { text: data.xTitle }, type: "date", tickformat: "%m-%d", hoverformat: "%Y-%m-%d", gridcolor: "#eef0f4" },
      yaxis: { title: { text: data.yTitle }, rangemode: "tozero", gridcolor: "#eef0f4", tickformat: ",d" }
    });
    element.textContent = "";
    window.Plotly.newPlot(element, traces, layout, CONFIG);
  }

  /* Relative lift per metric and treatment with its interval, one row each, under a
     header row per metric role; a vertical line at 0. */
  function forest(element) {
    var data = readData(element);
    if (!data || !window.Plotly) {
      return;
    }
    var narrow = element.clientWidth < 560;
    var ticks = [];
    var labels = [];
    var headers = [];
    var groups = { better: [], worse: [], neutral: [] };
    data.items.forEach(function (item, index) {
      ticks.push(index);
      if (item.header) {
        labels.push(item.header);
        headers.push(item.header);
        return;
      }
      labels.push(shorten(item.label, narrow ? 18 : 44));
      var group = groups[item.verdict] || groups.neutral;
      group.push({ y: index, item: item });
    });
    var traces = Object.keys(groups).filter(function (verdict) {
      return groups[verdict].length;
    }).map(function (verdict) {
      var points = groups[verdict];
      var color = VERDICT_COLORS[verdict];
      return {
        type: "scatter",
        mode: "markers",
        name: data.legend[verdict],
        x: points.map(function (p) { return p.item.estimate; }),
        y: points.map(function (p) { return p.y; }),
        error_x: {
          type: "data",
          symmetric: false,
          array: points.map(function (p) { return p.item.high - p.item.estimate; }),
          arrayminus: points.map(function (p) { return p.item.estimate - p.item.low; }),
          color: color,
          thickness: 2.5,
          width: 5
        },
        marker: { color: color, size: 11, symbol: "diamond" },
        hovertext: points.map(function (p) {
          return p.item.label + "<br>" + signed(p.item.estimate) + " [" + signed(p.item.low) +
            ", " + signed(p.item.high) + "]";
        }),
        hoverinfo: "text"
      };
    });
    var layout = Object.assign(baseLayout(), {
      height: 96 + data.items.length * (narrow ? 34 : 38),
      margin: { l: 24, r: 16, t: 36, b: 56 },
      hovermode: "closest",
      showlegend: true,
      xaxis: { title: { text: narrow ? data.xTitleShort : data.xTitle }, ticksuffix: "%", zeroline: false,
        gridcolor: "#eef0f4", automargin: true, nticks: narrow ? 4 : 0, tickangle: 0 },
      yaxis: { tickvals: ticks, ticktext: labels, automargin: true, showgrid: false,
        zeroline: false, range: [data.items.length - 0.5, -0.5] },
      shapes: [{ type: "line", xref: "x", yref: "paper", x0: 0, x1: 0, y0: 0, y1: 1,
        line: { color: "#111827", width: 1.5 } }]
    });
    element.textContent = "";
    window.Plotly.newPlot(element, traces, layout, CONFIG).then(function () {
      boldHeaders(element, headers);
      element.on("plotly_afterplot", function () { boldHeaders(element, headers); });
    });
  }

  /* Role headers in bold. Plotly's <b> markup would become a style attribute, which
     the CSP refuses; setting the property from a script is allowed. */
  function boldHeaders(element, headers) {
    element.querySelectorAll(".ytick text").forEach(function (text) {
      if (headers.indexOf(text.textContent) !== -1) {
        text.style.fontWeight = "700";
        text.style.fill = "#111827";
      }
    });
  }

  /* Cumulative relative lift by exposure day: a line per treatment and its interval
     as a band; a horizontal line at 0. */
  function cumulativeLift(element) {
    var data = readData(element);
    if (!data || !window.Plotly) {
      return;
    }
    var traces = [];
    data.series.forEach(function (series, index) {
      var color = PALETTE[(index + 1) % PALETTE.length];
      var group = "series-" + index;
      traces.push({
        type: "scatter", mode: "lines", x: series.days, y: series.high, line: { width: 0, color: color },
        legendgroup: group, showlegend: false, hoverinfo: "skip"
      });
      traces.push({
        type: "scatter", mode: "lines", x: series.days, y: series.low, line: { width: 0, color: color },
        fill: "tonexty", fillcolor: rgba(color, 0.16), legendgroup: group,
        name: data.series.length > 1 ? series.name + " · " + data.bandName : data.bandName, hoverinfo: "skip"
      });
      traces.push({
        type: "scatter", mode: series.days.length > 1 ? "lines+markers" : "markers", x: series.days,
        y: series.estimate, name: series.name, legendgroup: group, line: { color: color, width: 2.5 },
        marker: { color: color, size: 6 }, customdata: series.units,
        hovertemplate: series.name + ": %{y:+.1f}% (n = %{customdata:,})<extra></extra>"
      });
    });
    var layout = Object.assign(baseLayout(), {
      margin: { l: 56, r: 16, t: 40, b: 48 },
      hovermode: "x unified",
      xaxis: { title: { text: data.xTitle }, type: "date", tickformat: "%m-%d", hoverformat: "%Y-%m-%d", gridcolor: "#eef0f4" },
      yaxis: { title: { text: data.yTitle }, ticksuffix: "%", gridcolor: "#eef0f4", zeroline: true,
        zerolinecolor: "#111827", zerolinewidth: 1.5 }
    });
    element.textContent = "";
    window.Plotly.newPlot(element, traces, layout, CONFIG);
  }

  document.querySelectorAll("[data-source]#exposure-chart").forEach(cumulativeExposures);
  document.querySelectorAll("[data-chart='forest']").forEach(forest);
  document.querySelectorAll("[data-chart='cumulative-lift']").forEach(cumulativeLift);
})();
