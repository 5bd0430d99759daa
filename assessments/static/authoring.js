/* HR pages of the assessments pillar: stimulus charts (Plotly, served by the app)
   and the item editor's live preview. Loaded as a file: the Content-Security-Policy
   allows no inline script. */
(function () {
  "use strict";

  var FONT = 'system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", ' +
    '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  var PALETTE = ["#1d4ed8", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2"];

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* A bilingual {"zh", "en"} text in one language (the other when empty). */
  function pick(value, lang) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      var other = lang === "en" ? "zh" : "en";
      return value[lang] || value[other] || "";
    }
    return value === undefined || value === null ? "" : String(value);
  }

  function drawChart(target, s, lang) {
    if (!window.Plotly || !s || !Array.isArray(s.series)) { return; }
    var traces = s.series.map(function (series, i) {
      var color = PALETTE[i % PALETTE.length];
      return s.chart === "line"
        ? { type: "scatter", mode: "lines+markers", name: series.name, x: s.x, y: series.values,
            line: { color: color }, marker: { color: color } }
        : { type: "bar", name: series.name, x: s.x, y: series.values, marker: { color: color } };
    });
    var layout = {
      font: { family: FONT, size: 13, color: "#374151" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      margin: { l: 56, r: 16, t: 16, b: 48 }, height: 280,
      showlegend: s.series.length > 1,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      xaxis: { title: { text: pick(s.x_title, lang) }, type: "category" },
      yaxis: { title: { text: pick(s.y_title, lang) }, zeroline: true }
    };
    try {
      window.Plotly.react(target, traces, layout, { displayModeBar: false, responsive: true });
    } catch (e) { /* a broken chart in a draft must not stop the preview */ }
  }

  function drawCharts(root) {
    var charts = root.querySelectorAll(".stimulus-chart[data-source]");
    Array.prototype.forEach.call(charts, function (target) {
      var source = document.getElementById(target.getAttribute("data-source"));
      if (source) { drawChart(target, JSON.parse(source.textContent), document.documentElement.lang === "en" ? "en" : "zh"); }
    });
  }

  /* --- the live preview: the same markup as author_macros.item_view ---------- */

  function renderStimulus(s, lang) {
    var figure = el("figure", "stimulus");
    if (s.kind === "table") {
      var wrap = el("div", "table-wrap");
      var table = el("table");
      var head = el("tr");
      (s.columns || []).forEach(function (c) { head.appendChild(el("th", null, c)); });
      table.appendChild(el("thead")).appendChild(head);
      var body = el("tbody");
      (s.rows || []).forEach(function (row) {
        var tr = el("tr");
        (Array.isArray(row) ? row : []).forEach(function (cell) {
          tr.appendChild(el("td", typeof cell === "number" ? "num" : null, cell));
        });
        body.appendChild(tr);
      });
      table.appendChild(body);
      wrap.appendChild(table);
      figure.appendChild(wrap);
    } else if (s.kind === "chart") {
      var chart = el("div", "stimulus-chart");
      figure.appendChild(chart);
      window.setTimeout(function () { drawChart(chart, s, lang); }, 0);
    }
    if (s.caption) { figure.appendChild(el("figcaption", null, pick(s.caption, lang))); }
    return figure;
  }

  function optionLine(option, lang) {
    var li = el("li");
    li.appendChild(el("b", null, option && option.id));
    li.appendChild(document.createTextNode(" " + pick(option && option.text, lang)));
    return li;
  }

  function choice(kind, label) {
    var li = el("li");
    var lab = el("label");
    var input = el("input");
    input.type = kind;
    input.disabled = true;
    lab.appendChild(input);
    lab.appendChild(label);
    li.appendChild(lab);
    return li;
  }

  function renderItem(c, lang, labels) {
    var view = el("div", "item-view");
    view.appendChild(el("p", "item-stem", pick(c.stem, lang)));
    if (c.stimulus && typeof c.stimulus === "object") { view.appendChild(renderStimulus(c.stimulus, lang)); }
    var options = c.options;
    var list;
    if (c.type === "single" || c.type === "multiple") {
      list = el("ul", "item-options");
      (Array.isArray(options) ? options : []).forEach(function (o) {
        var span = el("span");
        span.appendChild(el("b", null, o && o.id));
        span.appendChild(document.createTextNode(" " + pick(o && o.text, lang)));
        list.appendChild(choice(c.type === "single" ? "radio" : "checkbox", span));
      });
      view.appendChild(list);
    } else if (c.type === "true_false") {
      list = el("ul", "item-options");
      list.appendChild(choice("radio", el("span", null, labels.labelTrue)));
      list.appendChild(choice("radio", el("span", null, labels.labelFalse)));
      view.appendChild(list);
    } else if (c.type === "numeric") {
      var p = el("p");
      var input = el("input", "item-number");
      input.type = "text";
      input.disabled = true;
      input.placeholder = labels.labelAnswer;
      p.appendChild(input);
      view.appendChild(p);
    } else if (c.type === "ordering") {
      list = el("ol", "item-ordering");
      (Array.isArray(options) ? options : []).forEach(function (o) { list.appendChild(optionLine(o, lang)); });
      view.appendChild(list);
    } else if (c.type === "matching") {
      var grid = el("div", "item-matching");
      ["left", "right"].forEach(function (side) {
        var column = el("ul");
        var items = options && Array.isArray(options[side]) ? options[side] : [];
        items.forEach(function (o) { column.appendChild(optionLine(o, lang)); });
        grid.appendChild(column);
      });
      view.appendChild(grid);
    } else if (c.type === "short_text" || c.type === "long_text") {
      var text = el("textarea", "item-text");
      text.disabled = true;
      text.rows = c.type === "short_text" ? 3 : 6;
      view.appendChild(text);
      var criteria = c.rubric && Array.isArray(c.rubric.criteria) ? c.rubric.criteria : [];
      if (criteria.length) {
        view.appendChild(el("p", "hint", labels.labelMarked + " " + criteria.map(function (cr) {
          return pick(cr && cr.name, lang);
        }).join(" · ")));
      }
    }
    var points = c.points === undefined ? 1 : c.points;
    if (c.type === "short_text" || c.type === "long_text") {
      points = (c.rubric && Array.isArray(c.rubric.criteria) ? c.rubric.criteria : []).reduce(function (sum, cr) {
        var best = 0;
        (cr && Array.isArray(cr.levels) ? cr.levels : []).forEach(function (l) {
          if (l && typeof l.points === "number" && l.points > best) { best = l.points; }
        });
        return sum + best;
      }, 0);
    }
    view.appendChild(el("p", "hint", labels.labelPoints + ": " + points +
      (c.scoring === "partial" ? " · " + labels.labelPartial : "")));
    return view;
  }

  function showProblems(box, problems, labels) {
    box.textContent = "";
    var keys = Object.keys(problems);
    if (!keys.length) {
      box.appendChild(el("p", "ok", "✓ " + labels.labelOk));
      return;
    }
    var panel = el("div", "flash flash-error");
    panel.appendChild(el("strong", null, labels.labelProblems));
    var list = el("ul", "error-list");
    keys.forEach(function (path) {
      var li = el("li");
      if (path) { li.appendChild(el("b", null, path)); li.appendChild(document.createTextNode(": ")); }
      li.appendChild(document.createTextNode(problems[path]));
      list.appendChild(li);
    });
    panel.appendChild(list);
    box.appendChild(panel);
  }

  function setupPreview(preview) {
    var source = document.getElementById(preview.getAttribute("data-source"));
    var problemsBox = document.getElementById("preview-problems");
    var labels = preview.dataset;
    var lang = preview.getAttribute("data-lang") || "zh";
    var token = document.querySelector('meta[name="csrf-token"]');
    var timer = null;
    var request = 0;

    function validate(content) {
      var mine = ++request;
      fetch(preview.getAttribute("data-validate-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.content : "" },
        body: JSON.stringify(content)
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        if (data && mine === request) { showProblems(problemsBox, data.problems || {}, labels); }
      }).catch(function () { /* offline: the server checks again on save */ });
    }

    function update() {
      var content;
      try {
        content = JSON.parse(source.value);
      } catch (e) {
        request++;
        showProblems(problemsBox, { "": labels.labelJson + ": " + e.message }, labels);
        return;
      }
      preview.textContent = "";
      if (content && typeof content === "object" && !Array.isArray(content)) {
        preview.appendChild(renderItem(content, lang, labels));
      }
      validate(content);
    }

    source.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, 300);
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-preview-lang]"), function (button) {
      button.addEventListener("click", function () {
        lang = button.getAttribute("data-preview-lang");
        Array.prototype.forEach.call(document.querySelectorAll("[data-preview-lang]"), function (b) {
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
        update();
      });
    });
    update();
  }

  function start() {
    drawCharts(document);
    var preview = document.getElementById("preview");
    if (preview) { setupPreview(preview); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
