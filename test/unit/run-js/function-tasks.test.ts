// runJsFunctionTests in the real sandbox: HumanEval-X JS and MultiPL-E JS/TS tasks from the benchmarks, and
// hand-made tasks for each outcome kind.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { runJsFunctionTests } from "../../../server/env/run/js-function";
import { jsSets, splitTestProgram } from "../../../server/env/tasks/js-sets";
import { DEFAULT_LIMITS, type FunctionTask } from "../../../server/env/types";

const BENCHMARKS = join(__dirname, "..", "..", "..", "..", "shared", "benchmarks");

let sandbox: Sandbox;
before(async () => {
  sandbox = await createSandbox();
});
after(async () => {
  await sandbox.dispose();
});

async function loadTask(set: string, id: string): Promise<FunctionTask> {
  const found = jsSets.find((s) => s.name === set);
  assert.ok(found);
  const task = (await found.load(BENCHMARKS)).tasks.find((t) => t.id === id);
  assert.ok(task && task.kind === "function", `${set} has ${id}`);
  return task;
}

/** A MultiPL-E style task for `add(a, b)`, with a short per-case limit so timeouts are quick. */
function addTask(language: "javascript" | "typescript" = "javascript"): FunctionTask {
  const test = [
    language === "typescript" ? "declare var require: any;" : "",
    "const assert = require('node:assert');",
    "function test() {",
    "  let candidate = add;",
    "  assert.deepEqual(candidate(1, 2), 3);",
    "  assert.deepEqual(candidate(-1, 1), 0);",
    "  assert.deepEqual(candidate(20, 22), 42);",
    "}",
    "test();",
  ].join("\n");
  return {
    kind: "function",
    id: "add",
    set: "user",
    language,
    prompt: "function add(a, b) {",
    entryPoint: "add",
    publicTests: splitTestProgram(test, language).cases,
    privateTests: [],
    limits: { ...DEFAULT_LIMITS, timeMs: 2000 },
  };
}

test("a HumanEval-X reference passes each case; its mutant fails some with a trace", async () => {
  const task = await loadTask("humaneval_x_js", "JavaScript/0");
  assert.ok(task.publicTests.length > 1, "the flat console.assert list is split into cases");
  const ok = await runJsFunctionTests(task, task.referenceSolution ?? "", { sandbox, which: "all" });
  assert.equal(ok.passed, true);
  assert.equal(ok.results.length, task.publicTests.length);
  const broken = (task.referenceSolution ?? "").replace("distance < threshold", "distance >= threshold");
  const report = await runJsFunctionTests(task, broken, { sandbox, which: "all" });
  assert.equal(report.passed, false);
  const failing = report.results.find((r) => r.outcome !== "passed");
  assert.equal(failing?.outcome, "wrong_answer");
  assert.match(failing?.input ?? "", /console\.assert\(\s*hasCloseElements/);
  assert.doesNotMatch(failing?.trace ?? "", /harness\.js|node:internal/, "harness frames are trimmed");
});

test("console.assert throws in HumanEval-X tasks, so a null stub fails", async () => {
  const task = await loadTask("humaneval_x_js", "JavaScript/0");
  const report = await runJsFunctionTests(task, "const hasCloseElements = () => null;\n", { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.ok(report.results.some((r) => r.outcome === "wrong_answer"));
});

test("a failed assert.deepEqual reports the expected and actual values", async () => {
  const report = await runJsFunctionTests(addTask(), "function add(a, b) { return a - b; }\n", { sandbox, which: "public" });
  const first = report.results[0];
  assert.equal(first.outcome, "wrong_answer");
  assert.equal(first.expected, "3");
  assert.equal(first.actual, "-1");
  assert.equal(report.results[1].outcome, "wrong_answer");
});

test("an endless loop times out its own case and the other cases still run", async () => {
  const code = "function add(a, b) { if (a < 0) { while (true) {} } return a + b; }\n";
  const report = await runJsFunctionTests(addTask(), code, { sandbox, which: "public" });
  assert.deepEqual(report.results.map((r) => r.outcome), ["passed", "timeout", "passed"]);
});

test("stopAtFirstFailure reports up to the first failing case only", async () => {
  const code = "function add(a, b) { if (a < 0) { while (true) {} } return a + b; }\n";
  const report = await runJsFunctionTests(addTask(), code, { sandbox, which: "public", stopAtFirstFailure: true });
  assert.deepEqual(report.results.map((r) => r.outcome), ["passed", "timeout"]);
});

test("an exception is reported with the program's frame", async () => {
  const code = "function add(a, b) {\n  if (a === 20) throw new TypeError('no twenties');\n  return a + b;\n}\n";
  const report = await runJsFunctionTests(addTask(), code, { sandbox, which: "public" });
  const third = report.results[2];
  assert.equal(third.outcome, "exception");
  assert.match(third.trace ?? "", /TypeError: no twenties/);
  assert.match(third.trace ?? "", /solution\.js:2/);
});

test("running out of memory is out_of_memory", async () => {
  const code = "function add(a, b) { const hog = []; while (true) hog.push(Buffer.alloc(1e8, 1)); }\n";
  // a time limit the memory limit always beats, even on a loaded machine (2 s once ran out first under load)
  const task = { ...addTask(), limits: { ...DEFAULT_LIMITS, timeMs: 20_000 } };
  const report = await runJsFunctionTests(task, code, { sandbox, which: "public" });
  assert.equal(report.results[0].outcome, "out_of_memory");
  assert.equal(report.passed, false);
});

test("a program that does not load fails every case with the same error", async () => {
  const report = await runJsFunctionTests(addTask(), "function add(a, b) { return a +; }\n", { sandbox, which: "public" });
  assert.deepEqual([...new Set(report.results.map((r) => r.outcome))], ["exception"]);
  assert.match(report.results[0].trace ?? "", /SyntaxError/);
  assert.match(report.error ?? "", /before the tests/);
});

test("a program that declares its own assert does not break the tests", async () => {
  const code = "const assert = 5;\nfunction add(a, b) { return a + b; }\n";
  const report = await runJsFunctionTests(addTask(), code, { sandbox, which: "public" });
  assert.equal(report.passed, true);
});

test("TypeScript is transpiled: types are erased, not checked", async () => {
  const typed = "function add(a: number, b: number): number { return a + b; }\n";
  assert.equal((await runJsFunctionTests(addTask("typescript"), typed, { sandbox, which: "public" })).passed, true);
  const typeError = "function add(a: number, b: number): string { return a + b; }\n";
  assert.equal((await runJsFunctionTests(addTask("typescript"), typeError, { sandbox, which: "public" })).passed, true);
});

test("TypeScript that does not parse is a compile error for the whole run", async () => {
  const report = await runJsFunctionTests(addTask("typescript"), "function add(a: number, b: number { return a + b; }\n", { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.match(report.error ?? "", /TypeScript compile failed[\s\S]*solution\.ts:1/);
  assert.ok(report.results.every((r) => r.outcome === "exception"));
});

test("MultiPL-E TypeScript tasks run from the benchmark", async () => {
  const task = await loadTask("multipl_e_ts", "HumanEval_23_strlen");
  const report = await runJsFunctionTests(task, "function strlen(string: string): number { return string.length; }\n", { sandbox, which: "all" });
  assert.equal(report.passed, true, JSON.stringify(report.results));
  const wrong = await runJsFunctionTests(task, "function strlen(string: string): number { return 1; }\n", { sandbox, which: "all" });
  assert.equal(wrong.passed, false);
});

test("Python tasks are refused", async () => {
  await assert.rejects(runJsFunctionTests({ ...addTask(), language: "python" }, "", { sandbox, which: "public" }), /is Python/);
});

test("a task without tests never passes", async () => {
  const report = await runJsFunctionTests({ ...addTask(), publicTests: [] }, "function add(a, b) { return a + b; }\n", { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.match(report.error ?? "", /no public tests/);
});
