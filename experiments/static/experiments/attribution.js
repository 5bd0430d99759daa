/* Charts of the attribution tab (results page), drawn with Plotly from the JSON
   data blocks of _attribution.html. Loaded as a file: the CSP allows no inline
   script. */
(function () {
  "use strict";

  var CONTROL = "#6b7280";
  var PALETTE = ["#1d4ed8", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2"];
  var LEVEL_COLORS = { rep: "#1d4ed8", customer: "#0891b2", interaction: "#cbd5e1" };
  var FONT = 'system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", ' +
    '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  var CONFIG = { displayModeBar: false, responsive: true };
  var GRID = "#eef0f4";

  function readData(id) {
    var element = document.getElementById(id);
    if (!element || !window.Plotly) {
      return null;
    }
    var source = document.getElementById(element.getAttribute("data-source"));
    return source ? { element: element, data: JSON.parse(source.textContent) } : null;
  }

  function baseLayout() {
    return {
      font: { family: FONT, size: 13, color: "#374151" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom" }
    };
  }

  function variantColor(variants, key) {
    var index = variants.indexOf(key);
    return index <= 0 ? CONTROL : PALETTE[(index - 1) % PALETTE.length];
  }

  /* One horizontal bar split into the rep, customer and interaction shares. */
  function variance() {
    var found = readData("variance-chart");
    if (!found) {
      return;
    }
    var data = found.data;
    var traces = ["rep", "customer", "interaction"].map(function (level) {
      var share = (data.levels[level] || 0) * 100;
      return {
        type: "bar",
        orientation: "h",
        name: data.labels[level],
        x: [share],
        y: [data.title],
        marker: { color: LEVEL_COLORS[level] },
        text: [share >= 4 ? share.toFixed(1) + "%" : ""],
        textposition: "inside",
        insidetextanchor: "middle",
        hovertemplate: data.labels[level] + ": " + share.toFixed(1) + "%<extra></extra>"
      };
    });
    var layout = Object.assign(baseLayout(), {
      barmode: "stack",
      height: 130,
      legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom", traceorder: "normal" },
      margin: { l: 8, r: 8, t: 36, b: 32 },
      xaxis: { range: [0, 100], ticksuffix: "%", gridcolor: GRID, fixedrange: true },
      yaxis: { visible: false, fixedrange: true }
    });
    found.element.classList.add("drawn");
    found.element.textContent = "";
    window.Plotly.newPlot(found.element, traces, layout, CONFIG);
  }

  /* Caterpillar plot: per rep, the raw effect (hollow) and the shrunk one (filled)
     with their intervals, sorted by the shrunk effect; lines at 0 and at the
     overall effect. */
  function reps() {
    var found = readData("reps-chart");
    if (!found) {
      return;
    }
    var data = found.data;
    var scale = data.proportion ? 100 : 1;
    var several = Object.keys(data.variants).length > 2;
    var rows = data.reps.slice().sort(function (a, b) {
      return (a.shrunk.estimate || 0) - (b.shrunk.estimate || 0);
    });
    var labels = rows.map(function (r) {
      var name = r.name || r.rep || "—";
      return several ? name + " · " + (data.variants[r.variant] || r.variant) : name;
    });
    function trace(kind, offset, color, filled) {
      return {
        type: "scatter",
        mode: "markers",
        name: data[kind],
        x: rows.map(function (r) { return r[kind].estimate * scale; }),
        y: rows.map(function (_, i) { return i + offset; }),
        error_x: {
          type: "data",
          symmetric: false,
          array: rows.map(function (r) { return (r[kind].ci_high - r[kind].estimate) * scale; }),
          arrayminus: rows.map(function (r) { return (r[kind].estimate - r[kind].ci_low) * scale; }),
          color: color,
          thickness: filled ? 2.5 : 1.5,
          width: 4
        },
        marker: {
          color: filled ? color : "#ffffff",
          size: filled ? 10 : 8,
          line: { color: color, width: 2 }
        },
        hovertext: rows.map(function (r, i) {
          var e = r[kind];
          return labels[i] + " · " + data[kind] + "<br>" + (e.estimate * scale).toFixed(2) +
            " [" + (e.ci_low * scale).toFixed(2) + ", " + (e.ci_high * scale).toFixed(2) + "]" +
            "<br>n = " + r.control_n + " / " + r.treatment_n;
        }),
        hoverinfo: "text"
      };
    }
    var traces = [trace("raw", 0.18, "#9ca3af", false), trace("shrunk", -0.18, "#1d4ed8", true)];
    var shapes = [{ type: "line", xref: "x", yref: "paper", x0: 0, x1: 0, y0: 0, y1: 1,
      line: { color: "#111827", width: 1.5 } }];
    var overall = rows.length && rows[0].overall ? rows[0].overall.estimate : null;
    if (overall !== null && overall !== undefined && !several) {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: overall * scale, x1: overall * scale,
        y0: 0, y1: 1, line: { color: "#1d4ed8", width: 1.5, dash: "dash" } });
      traces.push({ type: "scatter", mode: "lines", name: data.overall, x: [null], y: [null],
        line: { color: "#1d4ed8", width: 1.5, dash: "dash" }, hoverinfo: "skip" });
    }
    var narrow = found.element.clientWidth < 560;
    var layout = Object.assign(baseLayout(), {
      height: 110 + rows.length * 44,
      margin: { l: 16, r: 16, t: 40, b: 52 },
      hovermode: "closest",
      xaxis: { title: { text: data.xTitle }, gridcolor: GRID, zeroline: false, automargin: true,
        nticks: narrow ? 5 : 0 },
      yaxis: { tickvals: rows.map(function (_, i) { return i; }), ticktext: labels, automargin: true,
        showgrid: false, zeroline: false, range: [-0.6, rows.length - 0.4] },
      shapes: shapes
    });
    found.element.textContent = "";
    window.Plotly.newPlot(found.element, traces, layout, CONFIG);
  }

  /* Small multiples, one per method: each touchpoint type's share of the
     conversions, the variants' bars side by side. */
  function touchpoints() {
    var found = readData("touchpoints-chart");
    if (!found) {
      return;
    }
    var data = found.data;
    var width = found.element.clientWidth;
    var columns = width < 560 ? 1 : width < 980 ? 2 : 3;
    var rowsCount = Math.ceil(data.methods.length / columns);
    var labels = data.types.map(function (t) { return data.typeLabels[t] || t; });
    var traces = [];
    var annotations = [];
    var layout = Object.assign(baseLayout(), {
      barmode: "group",
      bargap: 0.25,
      height: 80 + rowsCount * (columns === 1 ? 250 : 270),
      margin: { l: 44, r: 12, t: width < 560 ? 104 : 72, b: 8 },
      grid: { rows: rowsCount, columns: columns, pattern: "independent", ygap: 0.5, xgap: 0.12 },
      annotations: annotations
    });
    data.methods.forEach(function (method, m) {
      var suffix = m === 0 ? "" : String(m + 1);
      data.variants.forEach(function (variant) {
        var shares = (data.touchpoints[variant] || {})[method] || {};
        traces.push({
          type: "bar",
          name: data.variantNames[variant] || variant,
          legendgroup: variant,
          showlegend: m === 0,
          x: labels,
          y: data.types.map(function (t) { return t in shares ? shares[t] * 100 : null; }),
          marker: { color: variantColor(data.variants, variant) },
          xaxis: "x" + suffix,
          yaxis: "y" + suffix,
          hovertemplate: (data.variantNames[variant] || variant) + " · %{x}: %{y:.1f}%<extra>" +
            data.methodLabels[method] + "</extra>"
        });
      });
      layout["xaxis" + suffix] = { tickangle: columns === 3 || width < 420 ? -40 : -30,
        automargin: true, fixedrange: true, tickfont: { size: 11 } };
      layout["yaxis" + suffix] = { ticksuffix: "%", rangemode: "tozero", gridcolor: GRID,
        fixedrange: true, nticks: 5 };
      annotations.push({ text: data.methodLabels[method], showarrow: false, xref: "x" + suffix + " domain",
        yref: "y" + suffix + " domain", x: 0, y: 1.04, xanchor: "left", yanchor: "bottom",
        font: { size: 13, color: "#111827" } });
    });
    layout.legend = { orientation: "h", x: 0, y: 1, yanchor: "top", yref: "container" };
    found.element.textContent = "";
    window.Plotly.newPlot(found.element, traces, layout, CONFIG);
  }

  variance();
  reps();
  touchpoints();
})();
