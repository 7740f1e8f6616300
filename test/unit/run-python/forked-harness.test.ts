// The function-level harness on the fork server (`python3 -I python_harness.py spec.json`, forked from a
// pre-started Python): it must go through the fork server, and every outcome, trace and restart after a
// dying process must match what a fresh sandbox gives.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox } from "../../../server/env/sandbox";
import type { Sandbox } from "../../../server/env/sandbox/types";
import { runPythonFunctionTests } from "../../../server/env/run/python-function";
import type { FunctionTestCase, RunReport } from "../../../server/env/types";
import { squareTask } from "./square-task";

let forked: Sandbox;
let fresh: Sandbox;
before(async () => {
  process.env.RLEF_CACHE_DIR = await mkdtemp(join(tmpdir(), "rlef-expected-"));
  forked = await createSandbox({ mode: "bwrap", workers: 1, forkServer: true });
  fresh = await createSandbox({ mode: "bwrap", workers: 1 });
});
after(async () => {
  await forked?.dispose();
  await fresh?.dispose();
});

const asserts = (...codes: string[]): FunctionTestCase[] => codes.map((code) => ({ kind: "assert", code }));


const squareTests = asserts("assert square(1) == 1", "assert square(2) == 4", "assert square(3) == 9");

const candidates: Array<[string, string]> = [
  ["a correct solution", "def square(x):\n    return x * x\n"],
  ["a wrong answer", "def square(x):\n    return x + x\n"],
  ["an exception with a trace", "def square(x):\n    return [1][x]\n"],
  ["an endless loop in one case", "def square(x):\n    while x == 2:\n        pass\n    return x * x\n"],
  ["os._exit in the middle case (the rest continue in a new process)", "import os\ndef square(x):\n    if x == 2:\n        os._exit(0)\n    return x * x\n"],
  ["memory beyond the limit", "def square(x):\n    s = 'x' * (600 * 1024 * 1024)\n    return len(s)\n"],
  ["a candidate that shadows json for later imports", "import sys, types\nsys.modules['json'] = types.ModuleType('json')\ndef square(x):\n    return x * x\n"],
  ["a candidate that writes a module into the working directory and imports the stdlib name", "open('random.py', 'w').write('raise SystemExit(9)')\nimport random\ndef square(x):\n    return -1 if random.__file__.startswith('/work') else x * x\n"],
];

const summary = (r: RunReport) => r.results.map((t) => [t.outcome, t.actual, t.expected, t.trace?.split("\n").slice(-1)[0]]);

for (const [name, code] of candidates) {
  test(`the harness on the fork server judges like a fresh sandbox: ${name}`, async () => {
    const task = squareTask(squareTests);
    const [a, b] = await Promise.all([
      runPythonFunctionTests(task, code, { sandbox: forked, which: "all" }),
      runPythonFunctionTests(task, code, { sandbox: fresh, which: "all" }),
    ]);
    assert.ok(a.isolation.enforced.includes("fork-server"), `not forked: ${JSON.stringify(a.isolation)}`);
    assert.ok(!b.isolation.enforced.includes("fork-server"));
    assert.deepEqual(summary(a), summary(b));
    assert.equal(a.passed, b.passed);
  });
}
