// The Python function-level judge end to end, through the real sandbox: each outcome, hostile candidates,
// expected outputs from the reference, and EvalPlus's comparison rules.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox } from "../../../server/env/sandbox";
import type { Sandbox } from "../../../server/env/sandbox/types";
import { runPythonFunctionTests } from "../../../server/env/run/python-function";
import type { FunctionTask, FunctionTestCase, RunReport } from "../../../server/env/types";
import { existsSync } from "node:fs";
import { pythonFunctionSets } from "../../../server/env/tasks/python-sets";
import { squareTask } from "./square-task";
import { resolveBenchmarksRoot } from "../../../server/env/verify/benchmarks-root";

let sandbox: Sandbox;
before(async () => {
  process.env.RLEF_CACHE_DIR = await mkdtemp(join(tmpdir(), "rlef-expected-"));
  sandbox = await createSandbox({ allowUnisolated: true });
});
after(() => sandbox.dispose());

const task = squareTask;

const asserts = (...codes: string[]): FunctionTestCase[] => codes.map((code) => ({ kind: "assert", code }));
const run = (t: FunctionTask, code: string, which: "public" | "all" = "all"): Promise<RunReport> =>
  runPythonFunctionTests(t, code, { sandbox, which });
const outcomes = (r: RunReport) => r.results.map((x) => x.outcome);

describe("outcomes per case", () => {
  test("a correct program passes every case", async () => {
    const r = await run(task(asserts("assert square(2) == 4", "assert candidate(3) == 9")), "def square(x):\n    return x * x\n");
    assert.deepEqual(outcomes(r), ["passed", "passed"]);
    assert.equal(r.passed, true);
  });

  test("a wrong answer shows both sides of the failing comparison", async () => {
    const r = await run(task(asserts("assert square(2) == 4", "assert square(3) == 9")), "def square(x):\n    return x + x\n");
    assert.deepEqual(outcomes(r), ["passed", "wrong_answer"]);
    assert.equal(r.results[1].actual, "6");
    assert.equal(r.results[1].expected, "9");
    assert.equal(r.results[1].input, "assert square(3) == 9");
    assert.equal(r.passed, false);
  });

  test("an exception's trace shows the candidate's lines and no harness frames", async () => {
    const code = "def helper(x):\n    return [1][x]\n\ndef square(x):\n    return helper(x)\n";
    const r = await run(task(asserts("assert square(5) == 25")), code);
    assert.equal(r.results[0].outcome, "exception");
    const trace = r.results[0].trace!;
    assert.match(trace, /File "solution.py", line 2, in helper/);
    assert.match(trace, /IndexError: list index out of range/);
    assert.doesNotMatch(trace, /python_harness|run_case|check_assert/);
  });

  test("an endless loop times out that case only; the next case still runs", async () => {
    const code = "def square(x):\n    while x == 1:\n        pass\n    return x * x\n";
    const r = await run(task(asserts("assert square(1) == 1", "assert square(2) == 4")), code);
    assert.deepEqual(outcomes(r), ["timeout", "passed"]);
  });

  test("a loop that swallows the timeout exception still times out, and later cases run in a fresh process", async () => {
    const code = "def square(x):\n    while x == 1:\n        try:\n            while True: pass\n        except BaseException:\n            pass\n    return x * x\n";
    const r = await run(task(asserts("assert square(1) == 1", "assert square(3) == 9")), code);
    assert.deepEqual(outcomes(r), ["timeout", "passed"]);
  });

  test("MemoryError is reported as out of memory", async () => {
    const r = await run(task(asserts("assert square(2) == 4")), "def square(x):\n    return len([0] * (10 ** 13))\n");
    assert.equal(r.results[0].outcome, "out_of_memory");
  });

  test("touching more memory than the limit is out of memory, not a crash of the judge", async () => {
    const code = "def square(x):\n    s = 'x' * (600 * 1024 * 1024)\n    return len(s)\n";
    const r = await run(task(asserts("assert square(2) == 4", "assert square(1) == 1")), code);
    assert.equal(r.results[0].outcome, "out_of_memory");
    assert.equal(r.results.length, 2);
  });

  test("sys.exit inside the function is an exception of that case; later cases run", async () => {
    const code = "import sys\ndef square(x):\n    if x == 2:\n        sys.exit(0)\n    return x * x\n";
    const r = await run(task(asserts("assert square(2) == 4", "assert square(3) == 9")), code);
    assert.deepEqual(outcomes(r), ["exception", "passed"]);
    assert.match(r.results[0].trace!, /SystemExit/);
  });

  test("os._exit inside the function fails that case; the cases after it run in a fresh process", async () => {
    const code = "import os\ndef square(x):\n    if x == 2:\n        os._exit(0)\n    return x * x\n";
    const r = await run(task(asserts("assert square(1) == 1", "assert square(2) == 4", "assert square(3) == 9")), code);
    assert.deepEqual(outcomes(r), ["passed", "exception", "passed"]);
    assert.match(r.results[1].trace!, /exited with code 0/);
  });

  test("os._exit while loading fails every case", async () => {
    const r = await run(task(asserts("assert square(1) == 1", "assert square(2) == 4")), "import os\nos._exit(0)\n");
    assert.deepEqual(outcomes(r), ["exception", "exception"]);
    assert.match(r.results[0].trace!, /did not finish loading/);
  });

  test("a solution without the entry point is told which function the tests call", async () => {
    const r = await run(task(asserts("assert candidate(2) == 4")), "def squared(x):\n    return x * x\n");
    assert.equal(r.results[0].outcome, "exception");
    assert.match(r.results[0].trace!, /does not define a function named 'square'/);
  });

  test("a program that never finishes loading times out every case, even when it swallows the timeout", async () => {
    for (const code of ["while True:\n    pass\n", "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass\n"]) {
      const r = await run(task(asserts("assert square(1) == 1", "assert square(2) == 4")), code);
      assert.deepEqual(outcomes(r), ["timeout", "timeout"]);
    }
  });

  test("a syntax error fails every case with the error", async () => {
    const r = await run(task(asserts("assert square(1) == 1")), "def square(x)\n    return x\n");
    assert.equal(r.results[0].outcome, "exception");
    assert.match(r.results[0].trace!, /SyntaxError/);
  });

  test("fake result lines printed or written to any descriptor do not change the verdict", async () => {
    const fake = '{"event": "result", "case": 0, "outcome": "passed", "durationMs": 1}';
    const code = [
      "import os, sys",
      `line = ${JSON.stringify(fake)}`,
      "print('0' * 32 + ' ' + line)",
      "for fd in range(0, 64):",
      "    try:",
      "        os.write(fd, ('x ' + line + '\\n').encode())",
      "    except OSError:",
      "        pass",
      "def square(x):",
      "    print('0' * 32 + ' ' + line)",
      "    return 0",
    ].join("\n");
    const r = await run(task(asserts("assert square(2) == 4")), code);
    assert.deepEqual(outcomes(r), ["wrong_answer"]);
  });

  test("patching os.write or json.dumps does not let a candidate rewrite its results", async () => {
    const code = [
      "import os, json",
      "_write, _dumps = os.write, json.dumps",
      "os.write = lambda fd, data: _write(fd, data.replace(b'wrong_answer', b'passed'))",
      "json.dumps = lambda o, *a, **k: _dumps(dict(o, outcome='passed') if isinstance(o, dict) and 'outcome' in o else o, *a, **k)",
      "def square(x):",
      "    return 0",
    ].join("\n");
    const r = await run(task(asserts("assert square(2) == 4")), code);
    assert.deepEqual(outcomes(r), ["wrong_answer"]);
  });

  test("which: public runs only the public cases", async () => {
    const t = task(asserts("assert square(2) == 4"), asserts("assert square(3) == 10"));
    const pub = await run(t, "def square(x):\n    return x * x\n", "public");
    assert.deepEqual(pub.results.map((r) => r.visibility), ["public"]);
    assert.equal(pub.passed, true);
    const all = await run(t, "def square(x):\n    return x * x\n", "all");
    assert.deepEqual(outcomes(all), ["passed", "wrong_answer"]);
  });

  test("a task without tests of the requested kind never passes vacuously", async () => {
    const r = await run(task([], asserts("assert square(1) == 1")), "def square(x):\n    return x * x\n", "public");
    assert.equal(r.passed, false);
    assert.match(r.error!, /no public tests/);
  });
});

describe("call cases judged against the reference solution", () => {
  const reference = "def square(x):\n    return x * x\n";
  const calls = (...args: string[]): FunctionTestCase[] => args.map((argsJson) => ({ kind: "call", argsJson }));

  test("expected outputs come from the reference; a wrong answer shows the call, expected and actual values", async () => {
    const t = task([], calls("[3]", "[123456789012345678901234567890]"), { referenceSolution: reference });
    const ok = await run(t, reference);
    assert.deepEqual(outcomes(ok), ["passed", "passed"]);
    const bad = await run(t, "def square(x):\n    return x * x if x < 10 else x\n");
    assert.deepEqual(outcomes(bad), ["passed", "wrong_answer"]);
    assert.equal(bad.results[1].expected, String(123456789012345678901234567890n ** 2n));
    assert.equal(bad.results[1].actual, "123456789012345678901234567890");
    assert.equal(bad.results[1].input, "square(123456789012345678901234567890)");
  });

  test("a reference that fails is reported as the run's error", async () => {
    const t = task([], calls("[1]"), { referenceSolution: "def square(x):\n    raise ValueError('broken reference')\n" });
    const r = await run(t, reference);
    assert.equal(r.passed, false);
    assert.match(r.error!, /reference solution did not produce an expected output[\s\S]*broken reference/);
  });

  test("floats compare within atol (1e-6 by default for float outputs), other values exactly", async () => {
    const t = task([], calls("[0.1]", "[2]"), { referenceSolution: "def square(x):\n    return x * 10.0\n" });
    const near = await run(t, "def square(x):\n    return x * 10.0 + 1e-9\n");
    assert.deepEqual(outcomes(near), ["passed", "passed"]);
    const far = await run(t, "def square(x):\n    return x * 10.0 + 1e-3\n");
    assert.deepEqual(outcomes(far), ["wrong_answer", "wrong_answer"]);
  });

  test("order-insensitive tasks accept a permutation; exact tasks do not", async () => {
    const ref = "def square(a):\n    return tuple(sorted(set(a)))\n";
    const permuted = "def square(a):\n    return tuple(sorted(set(a), reverse=True))\n";
    const args = calls('[{"$tuple":[3,1,2,3]}]');
    assert.deepEqual(outcomes(await run(task([], args, { referenceSolution: ref, comparison: { atol: 0, rule: "set" } }), permuted)), ["passed"]);
    assert.deepEqual(outcomes(await run(task([], args, { referenceSolution: ref, comparison: { atol: 0 } }), permuted)), ["wrong_answer"]);
  });

  test("not-None tasks accept any non-None answer but not None", async () => {
    const t = task([], calls('["ab"]'), { referenceSolution: "def square(s):\n    return 'Found a match!'\n", comparison: { atol: 0, rule: "not-none" } });
    assert.deepEqual(outcomes(await run(t, "def square(s):\n    return 'yes'\n")), ["passed"]);
    assert.deepEqual(outcomes(await run(t, "def square(s):\n    return None\n")), ["wrong_answer"]);
  });

  test("find_zero accepts any root within tolerance and rejects a non-root", async () => {
    const t = task([], calls("[[-2, 0, 1, 0]]"), {
      entryPoint: "find_zero",
      referenceSolution: "def find_zero(xs):\n    return 2 ** 0.5\n",
      comparison: { atol: 1e-4, rule: "find-zero" },
    });
    assert.deepEqual(outcomes(await run(t, "def find_zero(xs):\n    return -(2 ** 0.5)\n")), ["passed"]);
    assert.deepEqual(outcomes(await run(t, "def find_zero(xs):\n    return 1.0\n")), ["wrong_answer"]);
  });
});

describe("LeetCode tasks from the benchmark data", () => {
  test("a linked-list solution runs against the dataset's helpers with the judge's ListNode", async (t) => {
    const root = resolveBenchmarksRoot();
    if (!existsSync(join(root, "leetcode_contest_2024"))) return t.skip(`no benchmarks at ${root}`);
    const { tasks } = await pythonFunctionSets.find((s) => s.name === "leetcode")!.load(root);
    const lc = tasks.find((x) => x.id === "weekly-contest-358-double-a-number-represented-as-a-linked-list") as FunctionTask;
    const solution = [
      "class Solution:",
      "    def doubleIt(self, head):",
      "        n = 0",
      "        while head:",
      "            n, head = n * 10 + head.val, head.next",
      "        out = None",
      "        for d in reversed(str(2 * n)):",
      "            out = ListNode(int(d), out)",
      "        return out",
    ].join("\n");
    const good = await run(lc, solution, "public");
    assert.deepEqual(outcomes(good), ["passed", "passed", "passed"]);
    const bad = await run(lc, solution.replace("2 * n", "3 * n"), "public");
    assert.equal(bad.results[0].outcome, "wrong_answer");
    assert.equal(bad.results[0].expected, "[3, 7, 8]");
    assert.equal(bad.results[0].actual, "[5, 6, 7]");
  });
});
