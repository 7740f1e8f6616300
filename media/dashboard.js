// Draws the training dashboard from the run snapshots the extension posts (extension/dashboard.ts): a header
// (iteration i of N, stream state), the training curves and the evaluation rates with their intervals, as
// inline SVG. The arithmetic is in media/dashboard-plot.js; colours come from the theme (media/dashboard.css).
/* global acquireVsCodeApi, RLEFDashboardPlot */
(function () {
  const plot = RLEFDashboardPlot;
  const SVG = "http://www.w3.org/2000/svg";
  const W = 480;
  const H = 200;
  const M = { left: 52, right: 12, top: 10, bottom: 24 };
  const DOTS_UP_TO = 40; // points drawn as dots too while a series is short (a single point has no line)

  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svg(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  }

  function intervalText(p) {
    return p.low !== undefined && p.low !== null && p.high !== null ? ` (95% interval ${plot.formatNumber(p.low)} to ${plot.formatNumber(p.high)})` : "";
  }

  /** One chart: a caption with a legend that shows the latest (or hovered) values, and the SVG plot. */
  function drawChart(chart, xAxis, withIntervals) {
    const figure = el("figure", "chart");
    const caption = el("figcaption");
    caption.appendChild(el("span", "chart-title", chart.title));
    const at = el("span", "at");
    caption.appendChild(at);
    const legend = el("div", "legend");
    const readouts = chart.series.map((s, i) => {
      const item = el("span", "legend-item");
      item.appendChild(el("span", `swatch s${i}`));
      item.appendChild(el("span", "", `${s.label} `));
      const value = el("span", "value");
      item.appendChild(value);
      legend.appendChild(item);
      return value;
    });
    caption.appendChild(legend);
    figure.appendChild(caption);

    const values = chart.series.flatMap((s) => s.points.flatMap((p) => (withIntervals ? [p.y, p.low, p.high] : [p.y])));
    const yAxis = plot.niceAxis(values, chart.domain);
    const x = plot.linearScale(xAxis.domain, [M.left, W - M.right]);
    const y = plot.linearScale(yAxis.domain, [H - M.bottom, M.top]);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": chart.title });
    // Beneath everything, so that the dots' tooltips still show; the lines and dots pass their moves up to `root`.
    svg("rect", { class: "overlay", x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom }, root);

    for (const t of yAxis.ticks) {
      svg("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }, root);
      svg("text", { class: "tick", x: M.left - 6, y: y(t), "text-anchor": "end", "dominant-baseline": "middle" }, root).textContent = plot.formatTick(t, yAxis.step);
    }
    svg("line", { class: "axis", x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }, root);
    for (const t of xAxis.ticks) {
      svg("line", { class: "axis", x1: x(t), x2: x(t), y1: H - M.bottom, y2: H - M.bottom + 4 }, root);
      svg("text", { class: "tick", x: x(t), y: H - M.bottom + 15, "text-anchor": "middle" }, root).textContent = plot.formatTick(t, xAxis.step);
    }

    chart.series.forEach((s, i) => {
      svg("path", { class: `line s${i}`, d: plot.linePath(s.points, x, y) }, root);
      for (const p of s.points) {
        if (p.y === null) continue;
        if (withIntervals && p.low !== null && p.high !== null) {
          const cap = 3;
          svg("path", { class: `bar s${i}`, d: `M${x(p.x)},${y(p.low)}V${y(p.high)}M${x(p.x) - cap},${y(p.low)}h${2 * cap}M${x(p.x) - cap},${y(p.high)}h${2 * cap}` }, root);
        }
        if (withIntervals || s.points.length <= DOTS_UP_TO) {
          const dot = svg("circle", { class: `dot s${i}`, cx: x(p.x), cy: y(p.y), r: withIntervals ? 3 : 2 }, root);
          svg("title", {}, dot).textContent = `iteration ${p.x}: ${s.label} ${plot.formatNumber(p.y)}${withIntervals ? intervalText(p) : ""}`;
        }
      }
    });

    // Hover: a rule at the nearest recorded iteration, and the legend shows the values there.
    const rule = svg("line", { class: "rule", y1: M.top, y2: H - M.bottom, visibility: "hidden" }, root);
    const iterations = [...new Set(chart.series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b).map((v) => ({ x: v }));
    const show = (iteration) => {
      at.textContent = iteration === null ? "" : `at iteration ${iteration}`;
      chart.series.forEach((s, i) => {
        const p = iteration === null ? [...s.points].reverse().find((q) => q.y !== null) : s.points.find((q) => q.x === iteration);
        readouts[i].textContent = p ? plot.formatNumber(p.y) + (withIntervals && p.low !== null && p.high !== null ? ` [${plot.formatNumber(p.low)}, ${plot.formatNumber(p.high)}]` : "") : "n/a";
      });
    };
    root.addEventListener("mousemove", (event) => {
      const box = root.getBoundingClientRect();
      const index = plot.nearestIndex(iterations, x.invert(((event.clientX - box.left) / box.width) * W));
      if (index < 0) return;
      const iteration = iterations[index].x;
      rule.setAttribute("x1", String(x(iteration)));
      rule.setAttribute("x2", String(x(iteration)));
      rule.setAttribute("visibility", "visible");
      show(iteration);
    });
    root.addEventListener("mouseleave", () => {
      rule.setAttribute("visibility", "hidden");
      show(null);
    });
    show(null);
    figure.appendChild(root);
    return figure;
  }

  function drawCharts(container, charts, xAxis, withIntervals, empty) {
    container.textContent = "";
    if (!charts.length) container.appendChild(el("p", "empty", empty));
    for (const chart of charts) container.appendChild(drawChart(chart, xAxis, withIntervals));
  }

  function drawHeader(s) {
    const where = s.source.kind === "stream" ? `stream ${s.source.url}` : `run folder ${s.source.dir}`;
    $("title").textContent = s.outDir ? `RLEF training: ${s.outDir}` : "RLEF training";
    $("progress-text").textContent = plot.progressText(s);
    const bar = $("progress-bar");
    const last = s.metrics.length ? s.metrics[s.metrics.length - 1].iteration : 0;
    bar.max = s.iterations || 1;
    bar.value = s.iterations ? Math.min(last, s.iterations) : 0;
    bar.hidden = !s.iterations;
    const status = $("status");
    const state = plot.statusText(s);
    status.textContent = state;
    status.className = `badge ${state.replace(/\s+/g, "-")}`;
    $("source").textContent = `${where} · updated ${new Date(s.updatedAt).toLocaleTimeString()}`;
    const problem = $("problem");
    problem.textContent = s.problem || "";
    problem.hidden = !s.problem;
  }

  function draw(s) {
    drawHeader(s);
    const xAxis = plot.iterationAxis(s.metrics, s.evaluations);
    drawCharts($("training"), plot.trainingCharts(s.metrics), xAxis, false, "No iterations yet.");
    drawCharts($("evaluation"), plot.evaluationCharts(s.evaluations), xAxis, true, "No evaluations yet (the trainer evaluates every eval_every iterations, and before the first).");
  }

  window.addEventListener("message", (msg) => {
    if (msg.data && msg.data.type === "snapshot") draw(msg.data.snapshot);
  });

  // The extension sends nothing until this: messages posted before a listener exists are lost.
  acquireVsCodeApi().postMessage({ type: "ready" });
})();
