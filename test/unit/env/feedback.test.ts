import { test } from "node:test";
import assert from "node:assert/strict";
import { formatFeedback, MAX_FAILING_ITEMS } from "../../../server/env/feedback";
import { DEFAULT_LIMITS, type FunctionTask, type RunReport, type StdioTask, type TestResult, type WorkspaceTask } from "../../../server/env/types";

const isolation = { mode: "bwrap+cgroup" as const, enforced: ["namespaces"], missing: [] };

const stdioTask: StdioTask = {
  kind: "stdio",
  id: "t1",
  set: "user",
  language: "python",
  statement: "Add two numbers.",
  publicTests: [
    { input: "1 2\n", output: "3\n" },
    { input: "2 2\n", output: "4\n" },
  ],
  privateTests: [],
  checker: { mode: "tokens" },
  limits: DEFAULT_LIMITS,
};

function result(index: number, outcome: TestResult["outcome"], extra: Partial<TestResult> = {}): TestResult {
  return { index, visibility: "public", outcome, input: "1 2\n", durationMs: 5, ...extra };
}

function report(results: TestResult[], extra: Partial<RunReport> = {}): RunReport {
  return { taskId: "t1", results, passed: results.every((r) => r.outcome === "passed"), isolation, ...extra };
}

const RETRY_PY = "Give it another try. Answer with your complete program in a single fenced ```python code block, and put nothing else in backticks.";

test("stdio wrong answer shows input, expected and actual; passing tests are not listed", () => {
  const text = formatFeedback(stdioTask, {
    kind: "run",
    report: report([result(0, "passed"), result(1, "wrong_answer", { input: "2 2\n", expected: "4\n", actual: "5\n" })]),
  });
  assert.equal(
    text,
    "Your code failed the following tests:\n\nTest 2: wrong answer\nInput:\n2 2\nExpected output:\n4\nYour output:\n5\n\n" + RETRY_PY,
  );
});

test("stdio exception shows the input and the trace", () => {
  const trace = 'Traceback (most recent call last):\n  File "main.py", line 1, in <module>\nZeroDivisionError: division by zero';
  const text = formatFeedback(stdioTask, { kind: "run", report: report([result(0, "exception", { trace })]) });
  assert.equal(text, `Your code failed the following tests:\n\nTest 1: exception\nInput:\n1 2\nError:\n${trace}\n\n${RETRY_PY}`);
});

test("stdio timeout says the code took too long, with the limit", () => {
  const text = formatFeedback(stdioTask, { kind: "run", report: report([result(0, "timeout")]) });
  assert.equal(
    text,
    `Your code failed the following tests:\n\nTest 1: timeout\nInput:\n1 2\nExecution took too long (the time limit is 10 seconds).\n\n${RETRY_PY}`,
  );
});

test("stdio out of memory says the code ran out of memory, with the limit", () => {
  const text = formatFeedback(stdioTask, { kind: "run", report: report([result(0, "out_of_memory")]) });
  assert.equal(
    text,
    `Your code failed the following tests:\n\nTest 1: out of memory\nInput:\n1 2\nExecution ran out of memory (the limit is 1024 MiB).\n\n${RETRY_PY}`,
  );
});

test("empty input and empty output are named, and a cut output is flagged", () => {
  const text = formatFeedback(stdioTask, {
    kind: "run",
    report: report([result(0, "wrong_answer", { input: "", expected: "3\n", actual: "", outputTruncated: true })]),
  });
  assert.match(text, /Input:\n\(empty\)\nExpected output:\n3\nYour output:\n\(no output\)\n\(the output was cut at the output size limit\)/);
});

test("long fields are cut by the truncation rule with a marker", () => {
  const text = formatFeedback(stdioTask, {
    kind: "run",
    report: report([result(0, "wrong_answer", { input: "9".repeat(5000), expected: "1", actual: "2" })]),
  });
  assert.match(text, /\n9{500}\n\[… 4000 characters cut …\]\n9{500}\nExpected output:/);
});

test("at most MAX_FAILING_ITEMS failing tests are described, the rest counted", () => {
  const many = Array.from({ length: MAX_FAILING_ITEMS + 5 }, (_, i) => result(i, "timeout"));
  const text = formatFeedback(stdioTask, { kind: "run", report: report(many) });
  assert.equal(text.match(/^Test \d+: timeout$/gm)?.length, MAX_FAILING_ITEMS);
  assert.match(text, /\[… 5 more failing tests not shown …\]/);
});

test("a run that failed before the tests reports its error", () => {
  const text = formatFeedback(stdioTask, { kind: "run", report: report([], { passed: false, error: "compile failed: x" }) });
  assert.equal(text, `Your code could not be run:\ncompile failed: x\n\n${RETRY_PY}`);
});

test("an invalid response gets the format reminder", () => {
  assert.equal(
    formatFeedback(stdioTask, { kind: "invalid-response" }),
    `Your response did not contain a code block I could run.\n\n${RETRY_PY}`,
  );
});

test("a passing run has no feedback: asking for it is an error", () => {
  assert.throws(() => formatFeedback(stdioTask, { kind: "run", report: report([result(0, "passed")]) }), /no failing test/);
});

const functionTask: FunctionTask = {
  kind: "function",
  id: "f1",
  set: "user",
  language: "python",
  prompt: "def add(a, b):\n    \"\"\"Add.\"\"\"\n",
  entryPoint: "add",
  publicTests: [
    { kind: "assert", code: "assert add(1, 2) == 3" },
    { kind: "assert", code: "assert add(2, 2) == 4" },
  ],
  privateTests: [],
  limits: { timeMs: 3_000, memoryBytes: 512 * 1024 ** 2 },
};

test("function-level feedback lists passing asserts as successes and failures with their values", () => {
  const text = formatFeedback(functionTask, {
    kind: "run",
    report: report([
      result(0, "passed", { input: "assert add(1, 2) == 3" }),
      result(1, "wrong_answer", { input: "assert add(2, 2) == 4", expected: "4", actual: "5" }),
      result(2, "timeout", { input: "assert add(0, 0) == 0" }),
    ]),
  });
  assert.equal(
    text,
    [
      "Your code was run on the following tests and failed some of them:",
      "Test 1: passed\nassert add(1, 2) == 3",
      "Test 2: wrong answer\nassert add(2, 2) == 4\nExpected:\n4\nActual:\n5",
      "Test 3: timeout\nassert add(0, 0) == 0\nExecution took too long (the time limit is 3 seconds).",
      "Give it another try. Answer with the complete function in a single fenced ```python code block, and put nothing else in backticks.",
    ].join("\n\n"),
  );
});

const workspaceTask: WorkspaceTask = {
  kind: "workspace",
  id: "w1",
  set: "workspace",
  language: "typescript",
  root: "/tmp/project",
  target: { file: "src/add.ts", symbol: "add" },
  runner: "node-test",
  command: ["node", "--test"],
  limits: DEFAULT_LIMITS,
};

test("workspace failures show the test name and its message", () => {
  const text = formatFeedback(workspaceTask, {
    kind: "run",
    report: report([
      result(0, "passed", { name: "adds zero" }),
      result(1, "wrong_answer", { name: "adds two", input: "", trace: "AssertionError: 5 !== 4" }),
    ]),
  });
  assert.equal(
    text,
    "Your code failed the following tests:\n\nTest adds two: wrong answer\nAssertionError: 5 !== 4\n\n" +
      "Give it another try. Answer with the complete new version of `add` in a single fenced ```typescript code block, and put nothing else in backticks.",
  );
});

test("workspace runs without a machine-readable report say so", () => {
  const text = formatFeedback(workspaceTask, {
    kind: "run",
    report: report([result(0, "exception", { name: "make test", trace: "exit status 2\nFAIL" })], { fallback: true }),
  });
  assert.match(text, /^Your code failed the tests\. The test command has no machine-readable report/);
  assert.match(text, /Test make test: exception\nError:\nexit status 2\nFAIL\n\nGive it another try/);
});

test("a stdio wrong answer leaves out the judge's own note; a function assert's message is shown", () => {
  const stdioText = formatFeedback(stdioTask, {
    kind: "run",
    report: report([result(0, "wrong_answer", { expected: "3\n", actual: "4\n", trace: 'token 1: expected "3", got "4"' })]),
  });
  assert.doesNotMatch(stdioText, /token 1/);
  const fnText = formatFeedback(functionTask, {
    kind: "run",
    report: report([result(0, "wrong_answer", { input: "assert add(1, 2) == 3", trace: "AssertionError: sum is off" })]),
  });
  assert.match(fnText, /Test 1: wrong answer\nassert add\(1, 2\) == 3\nDetails:\nAssertionError: sum is off/);
});
