import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

// The README's main job (`bash .ci/demo`): the bundled demo policy, trained by the toy RLEF run, on the bundled
// secret-letter example. The letter is in no prompt; it shows up only in the feedback of a failed attempt.
const ROOT = resolve(__dirname, "..", "..", "..");
const EXAMPLE = join(ROOT, "examples", "secret-letter.json");

interface Turn {
  response: string;
  invalid: boolean;
  results: { outcome: string; expected: string; actual: string }[];
}

function solveDemo(): { outcome: string; turns: Turn[]; final: { passed: boolean } } {
  assert.ok(existsSync(join(ROOT, "models", "demo", "onnx", "model.onnx")), "the demo model is missing: run bash .ci/install");
  const consent = spawnSync("sh", ["-c", "command -v bwrap"]).status === 0 ? [] : ["--allow-unisolated"];
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "server", "cli", "main.ts"), "solve", EXAMPLE, "--json", ...consent], {
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status === 0 || r.status === 1, true, `rlef solve exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test("the bundled example hides its letter: the prompt never shows it", () => {
  const task = JSON.parse(readFileSync(EXAMPLE, "utf8"));
  const expected = String(task.publicTests[0].output).trim();
  assert.match(expected, /^[A-Z]$/);
  assert.doesNotMatch(task.statement, new RegExp(`\\b${expected}\\b`));
});

test("the main job: the demo policy fails its first attempt, then uses the feedback to pass", () => {
  const run = solveDemo();
  const expected = String(JSON.parse(readFileSync(EXAMPLE, "utf8")).publicTests[0].output);
  assert.ok(run.turns.length >= 2, `the first attempt must fail: ${JSON.stringify(run.turns.map((t) => t.response))}`);
  const first = run.turns[0];
  assert.equal(first.invalid, false, `attempt 1 is a well-formed answer: ${first.response}`);
  assert.equal(first.results[0].outcome, "wrong_answer");
  assert.notEqual(first.results[0].actual, expected);
  const last = run.turns[run.turns.length - 1];
  assert.equal(last.results[0].outcome, "passed", `the last attempt passes: ${JSON.stringify(run.turns.map((t) => t.response))}`);
  assert.equal(last.results[0].actual, expected);
  assert.equal(run.final.passed, true);
  assert.equal(run.outcome, "solved");
});
