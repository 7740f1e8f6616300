// Exercism tasks run Jest inside the sandbox with the repository's node_modules mounted read-only.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { runJsFunctionTests } from "../../../server/env/run/js-function";
import { jsSets } from "../../../server/env/tasks/js-sets";
import type { FunctionTask } from "../../../server/env/types";

const BENCHMARKS = join(__dirname, "..", "..", "..", "..", "shared", "benchmarks");

let sandbox: Sandbox;
let task: FunctionTask;
before(async () => {
  sandbox = await createSandbox();
  const exercism = jsSets.find((s) => s.name === "exercism_js");
  assert.ok(exercism);
  const found = (await exercism.load(BENCHMARKS)).tasks.find((t) => t.id === "javascript/binary");
  assert.ok(found && found.kind === "function");
  task = found;
});
after(async () => {
  await sandbox.dispose();
});

test("the spec's skipped tests are un-skipped", () => {
  const spec = Object.values(task.testFiles ?? {})[0];
  assert.doesNotMatch(spec, /\bxtest\(/);
  assert.equal(task.solutionFile, "binary.js");
});

test("the reference solution passes every Jest test, one result per test", async () => {
  const report = await runJsFunctionTests(task, task.referenceSolution ?? "", { sandbox, which: "all" });
  assert.equal(report.passed, true, JSON.stringify(report.results.filter((r) => r.outcome !== "passed")).slice(0, 2000));
  assert.ok(report.results.length > 1);
  assert.ok(report.results.every((r) => r.name && r.visibility === "public"));
});

test("the stub fails with Jest's own failures as feedback", async () => {
  const stub = "export class Binary {\n  constructor() {}\n  toDecimal() { return 0; }\n}\n";
  const report = await runJsFunctionTests(task, stub, { sandbox, which: "all" });
  assert.equal(report.passed, false);
  const wrong = report.results.find((r) => r.outcome === "wrong_answer");
  assert.ok(wrong, "an expect() mismatch is a wrong answer");
  assert.notEqual(wrong.expected, undefined);
  assert.equal(wrong.actual, "0");
});

test("a solution that does not parse fails the suite as an exception", async () => {
  const report = await runJsFunctionTests(task, "export class Binary {", { sandbox, which: "all" });
  assert.equal(report.passed, false);
  assert.equal(report.results[0].outcome, "exception");
  assert.match(report.results[0].trace ?? "", /SyntaxError|Unexpected token/);
});
