// The training dashboard's arithmetic (media/dashboard-plot.js), loaded as the webview loads it: a plain
// script that puts its functions on the global object, here a stand-in for the webview's window.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

interface Point {
  x: number;
  y: number | null;
  low?: number | null;
  high?: number | null;
}
interface Chart {
  id: string;
  title: string;
  domain?: [number, number];
  series: { key: string; label: string; points: Point[] }[];
}
type Axis = { domain: [number, number]; ticks: number[]; step: number };
type Scale = ((v: number) => number) & { invert(p: number): number };
interface Plot {
  trainingCharts(metrics: object[]): Chart[];
  evaluationCharts(evaluations: object[]): Chart[];
  evaluationSplits(evaluations: object[]): string[];
  niceAxis(values: (number | null)[], fixed?: [number, number], count?: number): Axis;
  iterationAxis(metrics: { iteration: number }[], evaluations: { iteration: number }[]): Axis;
  linearScale(domain: [number, number], range: [number, number]): Scale;
  linePath(points: Point[], x: (v: number) => number, y: (v: number) => number): string;
  nearestIndex(points: { x: number }[], x: number): number;
  formatNumber(v: number | null): string;
  formatTick(v: number, step: number): string;
  progressText(snapshot: object): string;
  statusText(snapshot: object): string;
}

const window: { RLEFDashboardPlot?: Plot } = {};
new Function("globalThis", readFileSync(join(__dirname, "..", "..", "..", "media", "dashboard-plot.js"), "utf8"))(window);
const plot = window.RLEFDashboardPlot!;

const metrics = [
  { iteration: 1, solve_rate: 0.25, first_turn_solve_rate: 0.0, kl_per_turn: 0.001, explained_variance: null, policy_loss: -0.1 },
  { iteration: 2, solve_rate: 0.5, first_turn_solve_rate: 0.25, kl_per_turn: 0.002, explained_variance: 0.3, policy_loss: 0.05 },
  { iteration: 3, solve_rate: 0.75, first_turn_solve_rate: 0.5, kl_per_turn: 0.004, explained_variance: 0.5 },
];
const evaluations = [
  { iteration: 0, seconds: 3, splits: { valid: { problems: 2, draws: 1, mt_1at3: 0.5, mt_1at3_low: 0, mt_1at3_high: 1, st_1at3: 0, mt_random_feedback_1at3: 0.5 } } },
  {
    iteration: 3,
    seconds: 3,
    splits: { valid: { problems: 2, draws: 1, mt_1at3: 1, mt_1at3_low: 1, mt_1at3_high: 1, st_1at3: 0.5, st_1at3_low: null, st_1at3_high: 1 }, humaneval_plus: { problems: 5, mt_1at3: 0.2 } },
  },
];

test("training charts: one per group of metrics the run reports, with missing values as gaps", () => {
  const charts = plot.trainingCharts(metrics);
  assert.deepEqual(
    charts.map((c) => c.id),
    ["solve", "kl", "loss", "ev"],
    "charts without any data (rewards, entropy, ...) are left out",
  );
  const solve = charts[0];
  assert.deepEqual(solve.domain, [0, 1]);
  assert.deepEqual(
    solve.series.map((s) => s.key),
    ["solve_rate", "first_turn_solve_rate"],
  );
  assert.deepEqual(
    solve.series[0].points.map((p) => [p.x, p.y]),
    [
      [1, 0.25],
      [2, 0.5],
      [3, 0.75],
    ],
  );
  const ev = charts.find((c) => c.id === "ev")!;
  assert.deepEqual(
    ev.series[0].points.map((p) => p.y),
    [null, 0.3, 0.5],
  );
  const loss = charts.find((c) => c.id === "loss")!;
  assert.deepEqual(
    loss.series.map((s) => s.key),
    ["policy_loss"],
    "a metric absent from every record is not a series",
  );
});

test("evaluation charts: one per split, MT / ST / random-feedback 1@3 with their intervals", () => {
  assert.deepEqual(plot.evaluationSplits(evaluations), ["valid", "humaneval_plus"]);
  const [valid, humaneval] = plot.evaluationCharts(evaluations);
  assert.equal(valid.title, "Evaluation: valid (2 problems)");
  assert.deepEqual(valid.domain, [0, 1]);
  assert.deepEqual(
    valid.series.map((s) => s.label),
    ["MT 1@3", "ST 1@3", "MT 1@3, random feedback"],
  );
  assert.deepEqual(valid.series[0].points, [
    { x: 0, y: 0.5, low: 0, high: 1 },
    { x: 3, y: 1, low: 1, high: 1 },
  ]);
  assert.deepEqual(valid.series[1].points[1], { x: 3, y: 0.5, low: null, high: 1 }, "a missing bound is null");
  assert.deepEqual(
    valid.series[2].points.map((p) => p.x),
    [0],
    "only the evaluations that have the rate",
  );
  assert.equal(humaneval.title, "Evaluation: humaneval_plus (5 problems)");
  assert.deepEqual(
    humaneval.series.map((s) => s.key),
    ["mt"],
  );
});

test("axes: rates keep [0, 1]; other values get a rounded range and round ticks; one value gets room", () => {
  assert.deepEqual(plot.niceAxis([0.2, 0.4], [0, 1]), { domain: [0, 1], ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
  const losses = plot.niceAxis([-0.13, 0.47, null]);
  assert.deepEqual(losses, { domain: [-0.2, 0.6], ticks: [-0.2, 0, 0.2, 0.4, 0.6], step: 0.2 });
  const one = plot.niceAxis([2]);
  assert.ok(one.domain[0] < 2 && one.domain[1] > 2, JSON.stringify(one));
  assert.deepEqual(plot.niceAxis([0]).domain, [-1, 1]);
  assert.deepEqual(plot.niceAxis([]).domain, [0, 1]);
  const tiny = plot.niceAxis([1e-5, 3e-5]);
  assert.ok(tiny.ticks.length >= 2 && tiny.ticks.length <= 11, JSON.stringify(tiny));
  assert.deepEqual(plot.iterationAxis(metrics, evaluations), { domain: [0, 3], ticks: [0, 1, 2, 3], step: 1 });
  assert.deepEqual(plot.iterationAxis([], []).domain, [0, 1]);
  assert.deepEqual(plot.iterationAxis([{ iteration: 400 }], []).ticks, [0, 100, 200, 300, 400]);
});

test("scales map and invert linearly; a zero-width domain maps to the middle", () => {
  const x = plot.linearScale([0, 10], [50, 150]);
  assert.equal(x(0), 50);
  assert.equal(x(5), 100);
  assert.equal(x.invert(150), 10);
  const y = plot.linearScale([0, 1], [200, 0]);
  assert.equal(y(0.25), 150);
  assert.equal(plot.linearScale([3, 3], [0, 100])(3), 50);
});

test("line paths break at missing values", () => {
  const x = plot.linearScale([0, 10], [0, 100]);
  const y = plot.linearScale([0, 1], [100, 0]);
  const points = [
    { x: 1, y: 0.5 },
    { x: 2, y: 0.25 },
    { x: 3, y: null },
    { x: 4, y: 1 },
    { x: 5, y: 0 },
  ];
  assert.equal(plot.linePath(points, x, y), "M10,50L20,75M40,0L50,100");
  assert.equal(plot.linePath([], x, y), "");
});

test("hover picks the nearest recorded iteration", () => {
  const points = [{ x: 0 }, { x: 10 }, { x: 20 }];
  assert.equal(plot.nearestIndex(points, 4), 0);
  assert.equal(plot.nearestIndex(points, 16), 2);
  assert.equal(plot.nearestIndex([], 3), -1);
});

test("numbers print short", () => {
  assert.equal(plot.formatNumber(0.123456), "0.123");
  assert.equal(plot.formatNumber(12.345), "12.3");
  assert.equal(plot.formatNumber(0), "0");
  assert.equal(plot.formatNumber(3e-5), "3e-5");
  assert.equal(plot.formatNumber(1.0512e-5), "1.05e-5");
  assert.equal(plot.formatNumber(250000), "2.5e5");
  assert.equal(plot.formatNumber(null), "n/a");
});

test("axis ticks print as many digits as tell them apart", () => {
  assert.deepEqual(
    [5.675, 5.68, 5.685].map((t) => plot.formatTick(t, 0.005)),
    ["5.675", "5.68", "5.685"],
  );
  assert.deepEqual(
    [9.5e-6, 1e-5, 1.05e-5].map((t) => plot.formatTick(t, 5e-7)),
    ["9.5e-6", "1e-5", "1.05e-5"],
  );
  assert.equal(plot.formatTick(0, 0.2), "0");
  assert.equal(plot.formatTick(0.4, 0.2), "0.4");
  assert.equal(plot.formatTick(100, 50), "100");
  for (const values of [[5.671, 5.689], [1e-5, 1e-5], [-3.1e-7, 1.9e-7], [0.001, 1000]]) {
    const axis = plot.niceAxis(values);
    const labels = axis.ticks.map((t) => plot.formatTick(t, axis.step));
    assert.equal(new Set(labels).size, labels.length, `${values}: ${labels}`);
  }
});

test("the header: iteration i of N and the state", () => {
  const snapshot = (over: object) => ({ status: "connected", iterations: 400, metrics: [], evaluations: [], ...over });
  assert.equal(plot.progressText(snapshot({})), "no iterations yet (of 400)");
  assert.equal(plot.progressText(snapshot({ metrics: [{ iteration: 12 }] })), "iteration 12 of 400");
  assert.equal(plot.progressText(snapshot({ iterations: null, metrics: [{ iteration: 12 }] })), "iteration 12");
  assert.equal(plot.statusText(snapshot({ status: "disconnected" })), "disconnected");
  assert.equal(plot.statusText(snapshot({ status: "watching", metrics: [{ iteration: 12 }] })), "watching files");
  assert.equal(plot.statusText(snapshot({ status: "watching", iterations: 12, metrics: [{ iteration: 12 }] })), "complete");
});
