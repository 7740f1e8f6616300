import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createSandbox } from "../../../server/env/sandbox";
import type { Sandbox } from "../../../server/env/sandbox/types";
import { runWorkspaceTests } from "../../../server/env/run/workspace";
import type { TestRunner } from "../../../server/env/types";
import { cacheFoldersIn, fingerprintTree } from "./tree-fingerprint";
import { copyWithNodeModules, fixtureFile, fixturePath, removeTree, workspaceTask } from "./workspace-fixtures";

let sandbox: Sandbox;
before(async () => {
  sandbox = await createSandbox();
});
after(async () => {
  await sandbox.dispose();
});

function breakCalc(source: string): string {
  return source.replace("return a + b", "return a - b").replace("/ values.length", "/ vals.length");
}

test("node --test: a failing candidate becomes the failure list from the JUnit report, the project untouched", async () => {
  const root = fixturePath("node-test-calc");
  const before = fingerprintTree(root);
  const task = workspaceTask(root, "node-test", ["node", "--test"], { file: "calc.js" });
  const report = await runWorkspaceTests(task, breakCalc(fixtureFile("node-test-calc", "calc.js")), { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.deepEqual(
    report.results.map((r) => [r.name, r.outcome]),
    [
      ["test/calc.test.js > add adds", "wrong_answer"],
      ["test/calc.test.js > mean averages", "exception"],
      ["test/calc.test.js > mean of nothing throws", "passed"],
    ],
  );
  assert.match(report.results[0].trace ?? "", /-1 !== 5/);
  assert.match(report.results[1].trace ?? "", /ReferenceError \[Error\]: vals is not defined\n\s+at mean \(calc\.js:8:46\)/);
  assert.deepEqual(fingerprintTree(root), before);

  const passing = await runWorkspaceTests(task, fixtureFile("node-test-calc", "calc.js"), { sandbox, which: "public" });
  assert.equal(passing.passed, true, JSON.stringify(passing.results));
  assert.equal(passing.results.length, 3);
});

test("node --test: a test file that cannot load is named by its path and shows the runner's output", async () => {
  const task = workspaceTask(fixturePath("node-test-calc"), "node-test", ["node", "--test"], { file: "calc.js" });
  const report = await runWorkspaceTests(task, "function add( {", { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.equal(report.results[0].name, "test/calc.test.js");
  assert.equal(report.results[0].outcome, "exception");
  assert.match(report.results[0].trace ?? "", /SyntaxError/);
});

for (const [runner, project, command] of [
  ["jest", "jest-calc", ["npx", "jest"]],
  ["vitest", "vitest-calc", ["vitest", "run"]],
] as Array<[TestRunner, string, string[]]>) {
  test(`${runner}: failures from the JSON report, node_modules mounted read-only, the project untouched`, async () => {
    const root = copyWithNodeModules(project);
    try {
      const before = fingerprintTree(root);
      const task = workspaceTask(root, runner, command, { file: "calc.js" });
      const report = await runWorkspaceTests(task, breakCalc(fixtureFile(project, "calc.js")), { sandbox, which: "public" });
      assert.equal(report.error, undefined, report.results[0]?.trace);
      assert.deepEqual(
        report.results.map((r) => [r.name, r.outcome]),
        [
          ["calc.test.js > calc > add adds", "wrong_answer"],
          ["calc.test.js > calc > mean averages", "exception"],
          ["calc.test.js > calc > mean of nothing throws", "passed"],
        ],
      );
      assert.match(report.results[1].trace ?? "", /vals is not defined\n\s+at .*calc\.js:8:46/);
      assert.doesNotMatch(report.results.map((r) => r.trace ?? "").join("\n"), /node_modules/);
      const afterRun = fingerprintTree(root);
      assert.deepEqual(afterRun, before);
      assert.deepEqual(cacheFoldersIn(afterRun), []);

      const passing = await runWorkspaceTests(task, fixtureFile(project, "calc.js"), { sandbox, which: "public" });
      assert.equal(passing.passed, true, JSON.stringify(passing.results));
    } finally {
      removeTree(root);
    }
  });
}
