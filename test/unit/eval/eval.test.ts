// `rlef eval`'s procedure against a hand calculation: a replay policy whose responses are known, on a task
// whose verdicts are known, through the real sandbox.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTests } from "../../../server/env/run";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { DEFAULT_LIMITS, type StdioTask } from "../../../server/env/types";
import { parseMode, procedureSampling, runDraw, type DrawOptions } from "../../../server/eval/procedure";
import { ResultsFileError, runEvaluation, type EvalConfig } from "../../../server/eval/run-eval";
import { solveRate } from "../../../server/eval/stats";
import { ReplayPolicy } from "../../../server/policy/replay";
import type { PolicyPrompt, SamplingOptions } from "../../../server/policy/types";

let sandbox: Sandbox;
let dir: string;
before(async () => {
  sandbox = await createSandbox();
  dir = mkdtempSync(join(tmpdir(), "rlef-eval-"));
});
after(async () => {
  await sandbox.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const task: StdioTask = {
  kind: "stdio",
  id: "double",
  set: "user",
  language: "python",
  statement: "Print 2*n.",
  publicTests: [{ input: "3\n", output: "6\n" }],
  privateTests: [{ input: "10\n", output: "20\n" }],
  checker: { mode: "tokens" },
  limits: { ...DEFAULT_LIMITS, timeMs: 5000 },
};
const W = "```python\nprint(int(input()) + 2)\n```"; // fails public and private
const P = "```python\nn = int(input())\nprint(6 if n == 3 else 0)\n```"; // passes public only
const R = "```python\nprint(2 * int(input()))\n```"; // passes everything
const opts: DrawOptions = { runTests: (t, code, which, signal) => runTests(t, code, { sandbox, which, signal }) };

test("MT 1@3 submits the last code of one rollout; ST 1@3 the first public-passing sample, else the last", async () => {
  // MT: responses W W W | R → draw 1 fails after 3 samples, draw 2 solves after 1.
  const mt = new ReplayPolicy({ responses: [W, W, W, R] });
  assert.deepEqual(await runDraw(task, mt, parseMode("mt", 3), opts), { solved: false, samples: 3, rollouts: 1 });
  assert.deepEqual(await runDraw(task, mt, parseMode("mt", 3), opts), { solved: true, samples: 1, rollouts: 1 });
  // ST: W P R → P passes the public test, so it is submitted (not R): unsolved after 2 samples.
  const st = new ReplayPolicy({ responses: [W, P, R] });
  assert.deepEqual(await runDraw(task, st, parseMode("st", 3), opts), { solved: false, samples: 2, rollouts: 2 });
  // ST: W W W → nothing passes public; the last is submitted and fails.
  const st2 = new ReplayPolicy({ responses: [W] });
  assert.deepEqual(await runDraw(task, st2, parseMode("st", 3), opts), { solved: false, samples: 3, rollouts: 3 });
});

test("n@k spends exactly k responses, cuts the last rollout at the budget, and submits public-passing finals first", async () => {
  // 1@4 with 3-turn rollouts: rollout 1 = W W W (3 samples, final W), rollout 2 is cut to 1 turn: P (passes public).
  // Public-passing first: P is submitted alone (n = 1) and fails the private test → unsolved.
  const a = new ReplayPolicy({ responses: [W, W, W, P] });
  assert.deepEqual(await runDraw(task, a, parseMode("1@4", 3), opts), { solved: false, samples: 4, rollouts: 2 });
  // 2@4: W W W then R (cut rollout) → R passes public → submitted first → solved.
  const b = new ReplayPolicy({ responses: [W, W, W, R] });
  assert.deepEqual(await runDraw(task, b, parseMode("2@4", 3), opts), { solved: true, samples: 4, rollouts: 2 });
});

test("a whole evaluation matches the hand calculation, and resuming redoes nothing", async () => {
  const config: EvalConfig = {
    set: "user",
    modes: [parseMode("mt", 3)],
    draws: 4,
    seed: 0,
    randomFeedback: false,
    policy: "replay",
    sampling: { temperature: 0, topP: 1, maxTokens: 64 },
    taskIds: ["double"],
  };
  // W W W | R | W W W | R → draws: fail, solve, fail, solve → 50%.
  const out = join(dir, "results.jsonl");
  const policy = new ReplayPolicy({ responses: [W, W, W, R] });
  const first = await runEvaluation([task], policy, { ...config, draws: 2 }, { drawOptions: opts, resultsFile: join(dir, "other.jsonl") });
  assert.equal(first.modes[0].solveRate.rate, 0.5);

  const p1 = new ReplayPolicy({ responses: [W, W, W, R] });
  const summary = await runEvaluation([task], p1, config, { drawOptions: opts, resultsFile: out });
  assert.deepEqual(
    summary.records.map((r) => r.solved),
    [false, true, false, true],
  );
  assert.equal(summary.modes[0].solveRate.rate, 0.5);
  assert.equal(summary.modes[0].meanSamples, 2);

  // Simulate a kill after two draws with a half-written third line: the resume keeps two and redoes two.
  const lines = readFileSync(out, "utf8").trim().split("\n");
  writeFileSync(out, [...lines.slice(0, 3), lines[3].slice(0, 10)].join("\n"));
  const p2 = new ReplayPolicy({ responses: [W, W, W, R] });
  const resumed = await runEvaluation([task], p2, config, { drawOptions: opts, resultsFile: out });
  assert.equal(resumed.resumed, 2);
  assert.equal(resumed.records.length, 4);
  assert.equal(p2.prompts.length, 4, "only the two missing draws were played (W W W, R)");

  // A results file of another evaluation is refused, not mixed in.
  await assert.rejects(runEvaluation([task], p2, { ...config, draws: 5 }, { drawOptions: opts, resultsFile: out }), ResultsFileError);
});

test("the solve rate is the mean over problems of per-problem fractions, with a bootstrap interval around it", () => {
  const r = solveRate([[true, false], [true, true], [false, false, false, true]], { seed: 1 });
  assert.equal(r.rate, (0.5 + 1 + 0.25) / 3);
  assert.ok(r.low <= r.rate && r.rate <= r.high);
  assert.equal(r.problems, 3);
  assert.equal(r.draws, 8);
  const same = solveRate([[true], [true]], { seed: 1 });
  assert.deepEqual([same.low, same.rate, same.high], [1, 1, 1]);
});

test("the procedure samples with temperature and top-p only: the model folder's top-k and repetition penalty are off", async () => {
  const sampling = procedureSampling(0.2, 0.95, 64);
  assert.deepEqual(sampling, { temperature: 0.2, topP: 0.95, topK: 0, repetitionPenalty: 1, maxTokens: 64 });
  // what a draw hands the policy: every field set, so nothing falls back to generation_config.json
  const seen: SamplingOptions[] = [];
  const policy = new ReplayPolicy({ responses: [R] });
  const spy = Object.assign(Object.create(policy) as ReplayPolicy, {
    generate: (prompt: PolicyPrompt, options: SamplingOptions = {}) => {
      seen.push(options);
      return policy.generate(prompt, options);
    },
  });
  assert.equal((await runDraw(task, spy, parseMode("mt", 3), { ...opts, sampling })).solved, true);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].topK, 0);
  assert.equal(seen[0].repetitionPenalty, 1);
  assert.equal(seen[0].temperature, 0.2);
  assert.equal(seen[0].topP, 0.95);
});
