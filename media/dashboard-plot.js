// The training dashboard's arithmetic, without the DOM: which charts and series a run snapshot gives
// (server/training/run-snapshot.ts), scales, axis ticks, SVG path data, number formats. media/dashboard.js
// draws with it; the unit tests (test/unit/training/dashboard-plot.test.ts) load this file as it is.
(function (root) {
  /** Training curves against iteration; a chart whose metrics are all absent is not drawn. */
  const TRAINING_CHARTS = [
    { id: "solve", title: "Solve rate (training rollouts)", domain: [0, 1], series: [["solve_rate", "solve rate"], ["first_turn_solve_rate", "first-turn solve rate"]] },
    { id: "reward", title: "Reward", series: [["episode_reward", "episode reward"], ["final_reward", "final reward"]] },
    { id: "kl", title: "KL per turn (to the reference policy)", series: [["kl_per_turn", "KL per turn"]] },
    { id: "loss", title: "Losses", series: [["policy_loss", "policy loss"], ["value_loss", "value loss"]] },
    { id: "ev", title: "Explained variance (value head)", series: [["explained_variance", "explained variance"]] },
    { id: "update", title: "PPO update", series: [["approx_kl", "approx KL"], ["clip_fraction", "clip fraction"]] },
    { id: "entropy", title: "Entropy", series: [["entropy", "entropy"]] },
    { id: "turns", title: "Turns per episode", series: [["mean_turns", "mean turns"]] },
    { id: "invalid", title: "Invalid answers", domain: [0, 1], series: [["invalid_rate", "invalid rate"]] },
    { id: "lr", title: "Learning rate", series: [["lr", "learning rate"]] },
    { id: "time", title: "Seconds per iteration", series: [["iteration_seconds", "iteration"], ["rollout_seconds", "rollouts"]] },
  ];

  /** The evaluation rates, each with its 95% interval (`<key>_1at3_low` / `_high`). */
  const EVALUATION_KINDS = [
    { key: "mt", label: "MT 1@3" },
    { key: "st", label: "ST 1@3" },
    { key: "mt_random_feedback", label: "MT 1@3, random feedback" },
  ];

  function isNumber(v) {
    return typeof v === "number" && Number.isFinite(v);
  }

  /** [{x, y}] of one metric; y is null where the value is missing or was NaN (drawn as a gap). */
  function metricSeries(metrics, key) {
    return metrics.map((m) => ({ x: m.iteration, y: isNumber(m[key]) ? m[key] : null }));
  }

  /** The training charts that have data, each with its series: [{id, title, domain?, series: [{key, label, points}]}]. */
  function trainingCharts(metrics) {
    const charts = [];
    for (const chart of TRAINING_CHARTS) {
      const series = chart.series
        .map(([key, label]) => ({ key, label, points: metricSeries(metrics, key) }))
        .filter((s) => s.points.some((p) => p.y !== null));
      if (series.length) charts.push({ id: chart.id, title: chart.title, domain: chart.domain, series });
    }
    return charts;
  }

  /** Split names in the order they first appear (e.g. valid, humaneval_plus). */
  function evaluationSplits(evaluations) {
    const names = [];
    for (const e of evaluations) for (const name of Object.keys(e.splits)) if (!names.includes(name)) names.push(name);
    return names;
  }

  /** [{x, y, low, high}] of one split's rate; evaluations without it are left out, a missing bound is null. */
  function evaluationSeries(evaluations, split, kind) {
    const points = [];
    for (const e of evaluations) {
      const rates = e.splits[split];
      if (!rates || !isNumber(rates[`${kind}_1at3`])) continue;
      const low = rates[`${kind}_1at3_low`];
      const high = rates[`${kind}_1at3_high`];
      points.push({ x: e.iteration, y: rates[`${kind}_1at3`], low: isNumber(low) ? low : null, high: isNumber(high) ? high : null });
    }
    return points;
  }

  /** One chart per split: [{id, title, domain, series: [{key, label, points}]}]. */
  function evaluationCharts(evaluations) {
    return evaluationSplits(evaluations)
      .map((split) => {
        const latest = [...evaluations].reverse().find((e) => e.splits[split]);
        const problems = latest && isNumber(latest.splits[split].problems) ? ` (${latest.splits[split].problems} problems)` : "";
        const series = EVALUATION_KINDS.map((k) => ({ key: k.key, label: k.label, points: evaluationSeries(evaluations, split, k.key) })).filter((s) => s.points.length);
        return { id: `eval-${split}`, title: `Evaluation: ${split}${problems}`, domain: [0, 1], series };
      })
      .filter((c) => c.series.length);
  }

  /** [min, max] of the finite numbers in `values`, or null if there are none. */
  function extent(values) {
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      if (!isNumber(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    return min <= max ? [min, max] : null;
  }

  /** A step of 1, 2 or 5 times a power of ten that cuts [min, max] into about `count` parts. */
  function niceStep(min, max, count) {
    const raw = (max - min) / Math.max(count, 1);
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / power;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
  }

  /**
   * A y domain that holds [min, max], widened to whole steps, and its ticks. A single value gets room
   * around it; a fixed domain (rates: [0, 1]) is kept and only widened if the data leave it.
   */
  function niceAxis(values, fixed, count = 5) {
    const found = extent(values);
    let [min, max] = fixed ? [Math.min(fixed[0], found ? found[0] : fixed[0]), Math.max(fixed[1], found ? found[1] : fixed[1])] : found || [0, 1];
    if (min === max) {
      const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
      min -= pad;
      max += pad;
    }
    const step = niceStep(min, max, count);
    const lo = fixed && min === fixed[0] ? min : tidy(Math.floor(min / step + 1e-9) * step);
    const hi = fixed && max === fixed[1] ? max : tidy(Math.ceil(max / step - 1e-9) * step);
    const ticks = [];
    for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9) && ticks.length < 100; k++) ticks.push(tidy(k * step));
    return { domain: [lo, hi], ticks, step };
  }

  /** The iteration axis shared by every chart, so charts line up: from 0 to the last iteration seen (at least 1). */
  function iterationAxis(metrics, evaluations, count = 6) {
    const last = Math.max(1, ...metrics.map((m) => m.iteration), ...evaluations.map((e) => e.iteration));
    const step = Math.max(1, niceStep(0, last, count));
    const ticks = [];
    for (let k = 0; k * step <= last; k++) ticks.push(tidy(k * step));
    return { domain: [0, last], ticks, step };
  }

  /** A function mapping [d0, d1] linearly onto [r0, r1]; a zero-width domain maps to the range's middle. */
  function linearScale(domain, range) {
    const [d0, d1] = domain;
    const [r0, r1] = range;
    const scale = (v) => (d1 === d0 ? (r0 + r1) / 2 : r0 + ((v - d0) / (d1 - d0)) * (r1 - r0));
    scale.invert = (p) => (r1 === r0 ? d0 : d0 + ((p - r0) / (r1 - r0)) * (d1 - d0));
    return scale;
  }

  /** SVG path data through the points, with a gap (a new "M") after each point whose y is null. */
  function linePath(points, x, y) {
    let d = "";
    let pen = false;
    for (const p of points) {
      if (p.y === null || !isNumber(p.y)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${round(x(p.x))},${round(y(p.y))}`;
      pen = true;
    }
    return d;
  }

  /** The index of the point whose x is nearest `x` (points sorted by x), or -1 for none. */
  function nearestIndex(points, x) {
    let best = -1;
    let distance = Infinity;
    for (let i = 0; i < points.length; i++) {
      const d = Math.abs(points[i].x - x);
      if (d < distance) {
        distance = d;
        best = i;
      }
    }
    return best;
  }

  /** A value in a legend: three significant digits, exponents when tiny or huge. */
  function formatNumber(v) {
    if (v === null || v === undefined || !isNumber(v)) return "n/a";
    return shortNumber(Number(v.toPrecision(3)));
  }

  /** An axis tick: as many digits as tell it from its neighbours `step` away (5.675, 5.68, 5.685). */
  function formatTick(v, step) {
    if (!isNumber(v) || v === 0 || !(step > 0)) return formatNumber(v);
    const digits = Math.floor(Math.log10(Math.abs(v))) - Math.floor(Math.log10(step)) + 1;
    return shortNumber(Number(v.toPrecision(Math.min(12, Math.max(1, digits)))));
  }

  function shortNumber(v) {
    const a = Math.abs(v);
    if (v !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential().replace("e+", "e");
    return String(v);
  }

  /** "iteration 12 of 400" (or "no iterations yet"), from the last metrics record and the planned total. */
  function progressText(snapshot) {
    const last = snapshot.metrics.length ? snapshot.metrics[snapshot.metrics.length - 1].iteration : 0;
    if (!last) return snapshot.iterations ? `no iterations yet (of ${snapshot.iterations})` : "no iterations yet";
    return snapshot.iterations ? `iteration ${last} of ${snapshot.iterations}` : `iteration ${last}`;
  }

  /** The state badge: connecting, connected, done, disconnected, or (for a folder) complete / watching. */
  function statusText(snapshot) {
    if (snapshot.status !== "watching") return snapshot.status;
    const last = snapshot.metrics.length ? snapshot.metrics[snapshot.metrics.length - 1].iteration : 0;
    return snapshot.iterations && last >= snapshot.iterations ? "complete" : "watching files";
  }

  /** Without the float noise of step arithmetic (0.6000000000000001 is 0.6). */
  function tidy(v) {
    return Number(v.toPrecision(12));
  }

  function round(v) {
    return Math.round(v * 10) / 10;
  }

  root.RLEFDashboardPlot = {
    TRAINING_CHARTS,
    EVALUATION_KINDS,
    metricSeries,
    trainingCharts,
    evaluationSplits,
    evaluationSeries,
    evaluationCharts,
    extent,
    niceAxis,
    iterationAxis,
    linearScale,
    linePath,
    nearestIndex,
    formatNumber,
    formatTick,
    progressText,
    statusText,
  };
})(globalThis);
