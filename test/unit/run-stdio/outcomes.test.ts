// runStdioTests in the real sandbox, on a CodeContests task and deliberately broken variants of its reference.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { runStdioTests } from "../../../server/env/run/stdio";
import { stdioSets } from "../../../server/env/tasks/stdio-sets";
import type { StdioTask } from "../../../server/env/types";

const BENCHMARKS = join(__dirname, "..", "..", "..", "..", "shared", "benchmarks");

let sandbox: Sandbox;
let task: StdioTask;
let reference: string;

before(async () => {
  sandbox = await createSandbox();
  const codecontests = stdioSets.find((s) => s.name === "codecontests");
  assert.ok(codecontests);
  const { tasks } = await codecontests.load(BENCHMARKS);
  const first = tasks[0];
  assert.equal(first.kind, "stdio");
  // A short time limit keeps the endless-loop case quick; the reference runs in well under it.
  task = { ...(first as StdioTask), limits: { ...first.limits, timeMs: 3000 } };
  reference = task.referenceSolution ?? "";
  assert.ok(reference.length > 0);
});
after(async () => {
  await sandbox.dispose();
});

/** The reference run inside the program, its stdout captured and rewritten by `rewrite` (Python source of a function). */
function rewritingReference(rewrite: string): string {
  return [
    "import io, sys",
    "_real_stdout = sys.stdout",
    "sys.stdout = io.StringIO()",
    `exec(compile(${JSON.stringify(reference)}, "main.py", "exec"), {"__name__": "__main__"})`,
    "_out = sys.stdout.getvalue()",
    "sys.stdout = _real_stdout",
    rewrite,
    "sys.stdout.write(_rewrite(_out))",
    "",
  ].join("\n");
}

test("the reference passes every public and private test", async () => {
  const report = await runStdioTests(task, reference, { sandbox, which: "all" });
  assert.equal(report.passed, true);
  assert.equal(report.results.length, task.publicTests.length + task.privateTests.length);
  assert.ok(report.results.every((r) => r.outcome === "passed"));
  assert.equal(report.isolation.mode, sandbox.isolation.mode);
});

test("which: public runs only the public tests", async () => {
  const report = await runStdioTests(task, reference, { sandbox, which: "public" });
  assert.equal(report.results.length, task.publicTests.length);
  assert.ok(report.results.every((r) => r.visibility === "public"));
});

test("an off-by-one answer is a wrong answer with input, expected and actual", async () => {
  const offByOne = rewritingReference(
    "import re\ndef _rewrite(s):\n    return re.sub(r'-?\\d+', lambda m: str(int(m.group()) + 1), s, count=1)",
  );
  const report = await runStdioTests(task, offByOne, { sandbox, which: "public" });
  assert.equal(report.passed, false);
  const first = report.results[0];
  assert.equal(first.outcome, "wrong_answer");
  assert.equal(first.input, task.publicTests[0].input);
  assert.equal(first.expected, task.publicTests[0].output);
  assert.notEqual(first.actual, undefined);
  assert.match(first.trace ?? "", /token 1: expected/);
});

test("a wrong output is a wrong answer", async () => {
  const report = await runStdioTests(task, 'print("no answer")\n', { sandbox, which: "public" });
  assert.deepEqual([...new Set(report.results.map((r) => r.outcome))], ["wrong_answer"]);
  assert.equal(report.results[0].actual, "no answer\n");
});

test("an exception is reported with a trace trimmed to the program", async () => {
  const broken = `${reference}\nraise RuntimeError("broken after answering")\n`;
  const report = await runStdioTests(task, broken, { sandbox, which: "public" });
  const first = report.results[0];
  assert.equal(first.outcome, "exception");
  assert.match(first.trace ?? "", /RuntimeError: broken after answering/);
  assert.match(first.trace ?? "", /File "main\.py", line \d+/);
  assert.doesNotMatch(first.trace ?? "", /\/work\/|\/tmp\//, "no sandbox paths in the trace");
});

test("an endless loop is a timeout", async () => {
  const report = await runStdioTests(task, `while True:\n    pass\n${reference}`, { sandbox, which: "public", stopAtFirstFailure: true });
  assert.equal(report.results.length, 1, "stopAtFirstFailure stops after the first failing test");
  assert.equal(report.results[0].outcome, "timeout");
});

test("allocating 4 GiB is out of memory", async () => {
  const report = await runStdioTests(task, `_hog = b"x" * (4 * 1024 ** 3)\n${reference}`, { sandbox, which: "public", stopAtFirstFailure: true });
  assert.equal(report.results[0].outcome, "out_of_memory");
});

test("a Python MemoryError is out of memory", async () => {
  const report = await runStdioTests(task, 'raise MemoryError("simulated")\n', { sandbox, which: "public", stopAtFirstFailure: true });
  assert.equal(report.results[0].outcome, "out_of_memory");
});

test("100 MB of output is cut at the cap and judged a wrong answer", async () => {
  const flood = 'import sys\nchunk = "1 " * (1 << 20)\nfor _ in range(50):\n    sys.stdout.write(chunk)\n';
  const report = await runStdioTests(task, flood, { sandbox, which: "public", stopAtFirstFailure: true });
  const first = report.results[0];
  assert.equal(first.outcome, "wrong_answer");
  assert.equal(first.outputTruncated, true);
  assert.ok((first.actual ?? "").length < 20 * 1024 * 1024, "the kept output is bounded");
});

test("a syntax error is an exception", async () => {
  const report = await runStdioTests(task, "def broken(:\n", { sandbox, which: "public", stopAtFirstFailure: true });
  assert.equal(report.results[0].outcome, "exception");
  assert.match(report.results[0].trace ?? "", /SyntaxError/);
});

test("a crash without stderr still explains itself", async () => {
  const report = await runStdioTests(task, "import os\nos._exit(3)\n", { sandbox, which: "public", stopAtFirstFailure: true });
  assert.equal(report.results[0].outcome, "exception");
  assert.match(report.results[0].trace ?? "", /exit status 3/);
});

test("a task without tests never passes", async () => {
  const empty: StdioTask = { ...task, publicTests: [], privateTests: [] };
  const report = await runStdioTests(empty, reference, { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.match(report.error ?? "", /no public tests/);
});

test("the time multiplier must be positive", async () => {
  await assert.rejects(runStdioTests(task, reference, { sandbox, which: "public", timeMultiplier: 0 }), /timeMultiplier/);
});

test("the checker of the task decides: exact rejects what tokens accepts", async () => {
  const echo = { ...task, publicTests: [{ input: "", output: "1 2\n" }], privateTests: [] };
  const program = 'print("1   2")\n';
  assert.equal((await runStdioTests({ ...echo, checker: { mode: "tokens" } }, program, { sandbox, which: "public" })).passed, true);
  assert.equal((await runStdioTests({ ...echo, checker: { mode: "exact" } }, program, { sandbox, which: "public" })).passed, false);
});

test("stdin reaches the program byte for byte", async () => {
  const input = "a\r\nb\u00a0c\n\n";
  const echo: StdioTask = { ...task, checker: { mode: "exact" }, publicTests: [{ input, output: JSON.stringify(input) + "\n" }], privateTests: [] };
  const program = 'import sys, json\nprint(json.dumps(sys.stdin.buffer.read().decode("utf-8"), ensure_ascii=False))\n';
  const report = await runStdioTests(echo, program, { sandbox, which: "public" });
  assert.equal(report.results[0].outcome, "passed", report.results[0].actual);
});

test("JavaScript and TypeScript stdin programs run under Node", async () => {
  const sum: StdioTask = { ...task, publicTests: [{ input: "2 3\n", output: "5\n" }], privateTests: [] };
  const js = "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(a + b);\n";
  assert.equal((await runStdioTests({ ...sum, language: "javascript" }, js, { sandbox, which: "public" })).passed, true);
  const tsCode = "const [a, b]: number[] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(a + b);\n";
  assert.equal((await runStdioTests({ ...sum, language: "typescript" }, tsCode, { sandbox, which: "public" })).passed, true);
  const thrown = await runStdioTests({ ...sum, language: "javascript" }, "function f() { throw new RangeError('bad'); }\nf();\n", { sandbox, which: "public" });
  assert.equal(thrown.results[0].outcome, "exception");
  assert.match(thrown.results[0].trace ?? "", /RangeError: bad/);
  assert.match(thrown.results[0].trace ?? "", /main\.js:1/);
  const broken = await runStdioTests({ ...sum, language: "typescript" }, "const x: = 1;\n", { sandbox, which: "public" });
  assert.equal(broken.passed, false);
  assert.match(broken.error ?? "", /TypeScript compile failed/);
});
