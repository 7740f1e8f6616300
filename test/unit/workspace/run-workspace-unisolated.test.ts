import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createSandbox } from "../../../server/env/sandbox";
import type { Sandbox } from "../../../server/env/sandbox/types";
import { runWorkspaceTests } from "../../../server/env/run/workspace";
import { cacheFoldersIn, fingerprintTree } from "./tree-fingerprint";
import { copyWithNodeModules, fixtureFile, fixturePath, removeTree, workspaceTask } from "./workspace-fixtures";

// Consented unisolated mode (macOS, Windows, no bubblewrap): the copy is a temporary folder of the
// sandbox's choosing rather than /work, and names and traces must still come out relative.
let sandbox: Sandbox;
before(async () => {
  sandbox = await createSandbox({ mode: "unisolated", allowUnisolated: true });
});
after(async () => {
  await sandbox.dispose();
});

test("unisolated pytest still runs in a copy and leaves the project untouched", async () => {
  const root = fixturePath("pytest-calc");
  const before = fingerprintTree(root);
  const broken = fixtureFile("pytest-calc", "calc.py").replace("/ len(values)", "/ len(vals)");
  const report = await runWorkspaceTests(workspaceTask(root, "pytest", ["pytest"], { file: "calc.py" }), broken, { sandbox, which: "public" });
  assert.equal(report.isolation.mode, "none");
  const mean = report.results.find((r) => r.name === "tests/test_calc.py::test_mean");
  assert.equal(mean?.outcome, "exception");
  assert.match(mean?.trace ?? "", /^calc\.py:15: NameError$/m);
  const afterRun = fingerprintTree(root);
  assert.deepEqual(afterRun, before);
  assert.deepEqual(cacheFoldersIn(afterRun), []);
});

test("unisolated vitest names tests relative to the copy, wherever the sandbox put it", async () => {
  const root = copyWithNodeModules("vitest-calc");
  try {
    const broken = fixtureFile("vitest-calc", "calc.js").replace("return a + b", "return a - b");
    const report = await runWorkspaceTests(workspaceTask(root, "vitest", ["vitest"], { file: "calc.js" }), broken, { sandbox, which: "public" });
    assert.deepEqual(
      report.results.map((r) => [r.name, r.outcome]),
      [
        ["calc.test.js > calc > add adds", "wrong_answer"],
        ["calc.test.js > calc > mean averages", "passed"],
        ["calc.test.js > calc > mean of nothing throws", "passed"],
      ],
    );
    assert.match(report.results[0].trace ?? "", /^AssertionError: expected -1 to be 5 \/\/ Object\.is equality\n\s+at calc\.test\.js:6:23$/);
  } finally {
    removeTree(root);
  }
});
