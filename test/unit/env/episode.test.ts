// Episodes end to end with the real sandbox and the real stdio runner (python3 under bubblewrap).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Episode, EpisodeStateError, type RunTestsFn } from "../../../server/env/episode";
import { approximateTokenCounter } from "../../../server/env/context-budget";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { runTests } from "../../../server/env/run";
import { DEFAULT_LIMITS, type StdioTask } from "../../../server/env/types";

let sandbox: Sandbox;
let runs: Array<{ taskId: string; which: string; publicTests: number }> = [];
const run: RunTestsFn = (task, code, which) => {
  runs.push({ taskId: task.id, which, publicTests: task.kind === "workspace" ? -1 : task.publicTests.length });
  return runTests(task, code, { sandbox, which });
};

before(async () => {
  sandbox = await createSandbox({ workers: 2 });
});
after(async () => {
  await sandbox.dispose();
});

const doubling: StdioTask = {
  kind: "stdio",
  id: "double",
  set: "user",
  language: "python",
  statement: "Read an integer n and print 2n.",
  publicTests: [{ input: "2\n", output: "4\n" }],
  privateTests: [{ input: "21\n", output: "42\n" }],
  checker: { mode: "tokens" },
  limits: { ...DEFAULT_LIMITS, timeMs: 5_000 },
};

const answer = (code: string) => "```python\n" + code + "\n```";
const CORRECT = answer("print(2 * int(input()))");
const PUBLIC_ONLY = answer("n = int(input())\nprint(4 if n == 2 else 0)");
const WRONG = answer("print(int(input()) + 1)");

test("reset returns the problem as the first observation", () => {
  const ep = new Episode(doubling, { runTests: run });
  const first = ep.reset();
  assert.equal(first.length, 1);
  assert.equal(first[0].role, "user");
  assert.match(first[0].content, /Read an integer n and print 2n\./);
});

test("a correct first answer stops early and earns +1 after the private tests", async () => {
  runs = [];
  const ep = new Episode(doubling, { runTests: run });
  ep.reset();
  const r = await ep.step(CORRECT);
  assert.equal(r.done, true);
  assert.equal(r.turn, 1);
  assert.equal(r.reward, 1);
  assert.deepEqual(r.observation.messages, []);
  assert.equal(r.info.stopReason, "public-tests-passed");
  assert.equal(r.info.final?.passed, true);
  assert.deepEqual(r.info.final?.results.map((t) => t.visibility), ["public", "private"]);
  // The final evaluation reuses this turn's public results and runs only the private tests.
  assert.deepEqual(runs.map((x) => [x.which, x.publicTests]), [["public", 1], ["all", 0]]);
  assert.equal(r.info.isolation?.mode, sandbox.isolation.mode);
});

test("passing the public tests but failing the private ones stops early with −1", async () => {
  const ep = new Episode(doubling, { runTests: run });
  ep.reset();
  const r = await ep.step(PUBLIC_ONLY);
  assert.equal(r.done, true);
  assert.equal(r.reward, -1);
  assert.equal(r.info.final?.passed, false);
});

test("a wrong answer gets feedback, then a fix within the turn limit earns +1", async () => {
  const ep = new Episode(doubling, { runTests: run });
  ep.reset();
  const r1 = await ep.step(WRONG);
  assert.equal(r1.done, false);
  assert.equal(r1.reward, 0);
  assert.equal(r1.results[0].outcome, "wrong_answer");
  assert.equal(r1.observation.messages.length, 1);
  assert.match(r1.observation.messages[0].content, /^Your code failed the following tests:\n\nTest 1: wrong answer\nInput:\n2\nExpected output:\n4\nYour output:\n3\n/);
  assert.deepEqual(r1.observation.prompt.map((m) => m.role), ["user", "assistant", "user"]);
  const r2 = await ep.step(CORRECT);
  assert.deepEqual([r2.done, r2.turn, r2.reward], [true, 2, 1]);
  await assert.rejects(ep.step(CORRECT), EpisodeStateError);
});

test("the turn limit ends the episode with the last response's code as the final answer", async () => {
  const ep = new Episode(doubling, { runTests: run, maxTurns: 2 });
  ep.reset();
  assert.equal((await ep.step(WRONG)).done, false);
  const r = await ep.step(WRONG);
  assert.deepEqual([r.done, r.turn, r.reward, r.info.stopReason], [true, 2, -1, "turn-limit"]);
  assert.equal(r.info.final?.code, "print(int(input()) + 1)\n");
});

test("an invalid response costs −0.2, gets the format reminder, and runs nothing", async () => {
  runs = [];
  const ep = new Episode(doubling, { runTests: run });
  ep.reset();
  const r = await ep.step("I would multiply by two.");
  assert.deepEqual([r.done, r.reward, r.info.invalid, r.info.invalidReason], [false, -0.2, true, "no-code-block"]);
  assert.deepEqual(r.results, []);
  assert.match(r.observation.messages[0].content, /^Your response did not contain a code block I could run\./);
  assert.deepEqual(runs, []);
});

test("an invalid last response leaves an empty final answer: −1 and −0.2 stack", async () => {
  const ep = new Episode(doubling, { runTests: run, maxTurns: 2 });
  ep.reset();
  await ep.step(WRONG);
  const r = await ep.step("no code, sorry");
  assert.equal(r.done, true);
  assert.equal(r.reward, -1.2);
  assert.deepEqual(r.info.final, { code: "", passed: false, results: [] });
});

test("a syntax error is run and reported like an exception, not as invalid", async () => {
  const ep = new Episode(doubling, { runTests: run });
  ep.reset();
  const r = await ep.step(answer("print(2 *"));
  assert.equal(r.info.invalid, false);
  assert.equal(r.results[0].outcome, "exception");
  assert.match(r.observation.messages[0].content, /Test 1: exception\nInput:\n2\nError:\n[\s\S]*SyntaxError/);
});

test("more turns than three are allowed", async () => {
  const ep = new Episode(doubling, { runTests: run, maxTurns: 5 });
  ep.reset();
  for (let t = 1; t <= 4; t++) assert.equal((await ep.step(WRONG)).done, false);
  assert.equal((await ep.step(WRONG)).turn, 5);
});

test("the context budget drops old attempts from the next prompt", async () => {
  const ep = new Episode(doubling, { runTests: run, contextBudget: { contextLength: 160, countTokens: approximateTokenCounter(4) } });
  ep.reset();
  await ep.step(WRONG);
  const r = await ep.step(WRONG);
  assert.equal(r.info.context?.droppedAttempts, 1);
  assert.deepEqual(r.observation.prompt.map((m) => m.role), ["user", "assistant", "user"]);
  assert.equal(r.observation.prompt[0].content, ep.reset()[0].content);
});

test("stepping before reset, two steps at once, and bad options are refused", async () => {
  const ep = new Episode(doubling, { runTests: run });
  await assert.rejects(ep.step(CORRECT), /call reset\(\) before step\(\)/);
  ep.reset();
  const first = ep.step(WRONG);
  await assert.rejects(ep.step(WRONG), /already running/);
  await first;
  assert.throws(() => new Episode(doubling, { runTests: run, maxTurns: 0 }), /maxTurns must be a positive integer/);
  assert.throws(() => new Episode({ ...doubling, publicTests: [] }, { runTests: run }), /has no public tests/);
});

test("a runner failure leaves the episode unchanged so the turn can be retried", async () => {
  let fail = true;
  const flaky: RunTestsFn = (task, code, which) => (fail ? Promise.reject(new Error("sandbox gone")) : run(task, code, which));
  const ep = new Episode(doubling, { runTests: flaky });
  ep.reset();
  await assert.rejects(ep.step(WRONG), /sandbox gone/);
  assert.equal(ep.turnsPlayed, 0);
  fail = false;
  const r = await ep.step(WRONG);
  assert.equal(r.turn, 1);
  assert.deepEqual(r.observation.prompt.map((m) => m.role), ["user", "assistant", "user"]);
});

test("a function-level episode lists passing asserts as successes and shows run-time values of failures", async () => {
  const add = {
    kind: "function" as const,
    id: "add",
    set: "user",
    language: "python" as const,
    prompt: 'def add(a, b):\n    """Add."""\n',
    entryPoint: "add",
    publicTests: [
      { kind: "assert" as const, code: "assert add(1, 1) == 2" },
      { kind: "assert" as const, code: "assert add(2, 2) == 4" },
      { kind: "call" as const, argsJson: "[3, 4]", expectedJson: "7" },
    ],
    privateTests: [{ kind: "call" as const, argsJson: "[12345678901234567890, 1]", expectedJson: "12345678901234567891" }],
    limits: { ...DEFAULT_LIMITS, timeMs: 5_000 },
  };
  const ep = new Episode(add, { runTests: run });
  ep.reset();
  const r1 = await ep.step("```python\ndef add(a, b):\n    return a * b if a < 3 else 1 / 0\n```");
  const text = r1.observation.messages[0].content;
  assert.match(text, /^Your code was run on the following tests and failed some of them:\n\nTest 1: wrong answer\nassert add\(1, 1\) == 2\nExpected:\n2\nActual:\n1\n/);
  assert.match(text, /\n\nTest 2: passed\nassert add\(2, 2\) == 4\n\n/);
  assert.match(text, /\n\nTest 3: exception\nadd\(3, 4\)\nError:\nTraceback[\s\S]*ZeroDivisionError/);
  assert.match(text, /\n\nGive it another try\. Answer with the complete function in a single fenced ```python code block, and put nothing else in backticks\.$/);
  const r2 = await ep.step("```python\ndef add(a, b):\n    return a + b\n```");
  assert.deepEqual([r2.done, r2.reward], [true, 1]);
  assert.deepEqual(r2.info.final?.results.map((t) => t.visibility), ["public", "public", "public", "private"]);
});

test("episode events report each stage of a turn in order", async () => {
  const events: string[] = [];
  const ep = new Episode(doubling, {
    runTests: run,
    onEvent: (e) => events.push(e.type === "test-results" ? `${e.type}:${e.which}` : e.type === "code-extracted" ? `${e.type}:${e.invalid}` : e.type),
  });
  ep.reset();
  await ep.step("no code");
  await ep.step(WRONG);
  await ep.step(CORRECT);
  assert.deepEqual(events, [
    "turn-started", "code-extracted:true", "feedback",
    "turn-started", "code-extracted:false", "test-results:public", "feedback",
    "turn-started", "code-extracted:false", "test-results:public", "test-results:private", "done",
  ]);
});

test("a task without private tests is scored on the final turn's public run, without running again", async () => {
  runs = [];
  const ep = new Episode({ ...doubling, privateTests: [] }, { runTests: run });
  ep.reset();
  const r = await ep.step(CORRECT);
  assert.deepEqual([r.done, r.reward, r.info.final?.passed], [true, 1, true]);
  assert.deepEqual(r.info.final?.results, r.results);
  assert.deepEqual(runs.map((x) => x.which), ["public"]);
});

test("at the turn limit a failing final answer is scored with its public failures and its private results", async () => {
  runs = [];
  const ep = new Episode(doubling, { runTests: run, maxTurns: 1 });
  ep.reset();
  const r = await ep.step(WRONG);
  assert.deepEqual([r.done, r.reward], [true, -1]);
  assert.deepEqual(r.info.final?.results.map((t) => [t.visibility, t.outcome]), [["public", "wrong_answer"], ["private", "wrong_answer"]]);
});
