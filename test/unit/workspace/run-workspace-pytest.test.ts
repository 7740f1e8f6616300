import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createSandbox } from "../../../server/env/sandbox";
import type { Sandbox } from "../../../server/env/sandbox/types";
import { runTests } from "../../../server/env/run/index";
import { runWorkspaceTests } from "../../../server/env/run/workspace";
import { cacheFoldersIn, fingerprintTree } from "./tree-fingerprint";
import { fixtureFile, fixturePath, workspaceTask } from "./workspace-fixtures";

const PROJECT = "pytest-calc";
const root = fixturePath(PROJECT);
const original = fixtureFile(PROJECT, "calc.py");
const broken = original.replace("return a + b", "return a - b").replace("/ len(values)", "/ len(vals)");
let sandbox: Sandbox;

before(async () => {
  sandbox = await createSandbox();
});
after(async () => {
  await sandbox.dispose();
});

test("a failing candidate becomes the failure list read from pytest's JUnit report, the project untouched", async () => {
  const before = fingerprintTree(root);
  const report = await runWorkspaceTests(workspaceTask(root, "pytest", ["pytest"], { file: "calc.py" }), broken, { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.equal(report.fallback, undefined);
  assert.equal(report.error, undefined);
  assert.deepEqual(
    report.results.map((r) => [r.name, r.outcome]),
    [
      ["tests/test_calc.py::test_add", "wrong_answer"],
      ["tests/test_calc.py::test_sub", "passed"],
      ["tests/test_calc.py::test_mean", "exception"],
      ["tests/test_calc.py::test_mean_empty_raises", "passed"],
      ["tests/test_calc_unittest.py::AddTests::test_add_negative", "wrong_answer"],
    ],
  );
  const add = report.results[0];
  assert.equal(add.input, "tests/test_calc.py::test_add");
  assert.equal(add.visibility, "public");
  assert.match(add.trace ?? "", /assert -1 == 5/);
  assert.match(report.results[2].trace ?? "", /NameError: name 'vals' is not defined\n\ncalc\.py:15: NameError/);
  assert.doesNotMatch(report.results.map((r) => r.trace ?? "").join("\n"), /\/work\/|site-packages/);
  assert.equal(report.isolation.mode, sandbox.isolation.mode);
  const afterRun = fingerprintTree(root);
  assert.deepEqual(afterRun, before);
  assert.deepEqual(cacheFoldersIn(afterRun), []);
});

test("the unchanged project passes", async () => {
  const report = await runWorkspaceTests(workspaceTask(root, "pytest", ["python3", "-m", "pytest"], { file: "calc.py" }), original, { sandbox, which: "public" });
  assert.equal(report.passed, true, JSON.stringify(report.results));
  assert.equal(report.results.length, 5);
});

test("a line-range target replaces only those lines", async () => {
  // Lines 4-5 of calc.py are `def add(a, b):` and its body.
  const task = workspaceTask(root, "pytest", ["pytest"], { file: "calc.py", startLine: 4, endLine: 5, symbol: "add" });
  const fixed = await runWorkspaceTests(task, "def add(a, b):\n    return b + a\n", { sandbox, which: "public" });
  assert.equal(fixed.passed, true, JSON.stringify(fixed.results));
  const wrong = await runWorkspaceTests(task, "def add(a, b):\n    return a * b\n", { sandbox, which: "public" });
  assert.deepEqual(
    wrong.results.filter((r) => r.outcome !== "passed").map((r) => r.name),
    ["tests/test_calc.py::test_add", "tests/test_calc_unittest.py::AddTests::test_add_negative"],
  );
});

test("a syntax error in the candidate is an exception per test file, with the error and no pytest internals", async () => {
  const report = await runWorkspaceTests(workspaceTask(root, "pytest", ["pytest"], { file: "calc.py" }), "def add(a, b:\n", { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.deepEqual(
    report.results.map((r) => [r.name, r.outcome]),
    [
      ["tests/test_calc.py", "exception"],
      ["tests/test_calc_unittest.py", "exception"],
    ],
  );
  assert.match(report.results[0].trace ?? "", /SyntaxError/);
  assert.doesNotMatch(report.results[0].trace ?? "", /_pytest|importlib/);
});

test("a held-out command runs only for `all`, and its results are private", async () => {
  const task = workspaceTask(root, "pytest", ["pytest", "tests/test_calc.py"], { file: "calc.py" }, {
    heldOutCommand: ["pytest", "tests/test_calc_unittest.py"],
  });
  const publicOnly = await runWorkspaceTests(task, original, { sandbox, which: "public" });
  assert.deepEqual(publicOnly.results.map((r) => r.visibility), ["public", "public", "public", "public"]);
  const all = await runWorkspaceTests(task, original, { sandbox, which: "all" });
  assert.deepEqual(all.results.map((r) => [r.visibility, r.index]).slice(4), [["private", 0]]);
  assert.equal(all.passed, true);
});

test("with stopAtFirstFailure a failing public command skips the held-out one", async () => {
  const task = workspaceTask(root, "pytest", ["pytest", "tests/test_calc.py"], { file: "calc.py" }, {
    heldOutCommand: ["pytest", "tests/test_calc_unittest.py"],
  });
  const report = await runWorkspaceTests(task, broken, { sandbox, which: "all", stopAtFirstFailure: true });
  assert.deepEqual([...new Set(report.results.map((r) => r.visibility))], ["public"]);
  assert.equal(report.passed, false);
});

test("a cancelled run rejects instead of reporting a verdict", async () => {
  const controller = new AbortController();
  controller.abort();
  const task = workspaceTask(root, "pytest", ["pytest"], { file: "calc.py" });
  await assert.rejects(runWorkspaceTests(task, original, { sandbox, which: "public", signal: controller.signal }), /cancelled/);
});

test("the run dispatcher sends workspace tasks here", async () => {
  const report = await runTests(workspaceTask(root, "pytest", ["pytest"], { file: "calc.py" }), broken, { sandbox, which: "public" });
  assert.equal(report.taskId, "ws-pytest");
  assert.equal(report.results.filter((r) => r.outcome !== "passed").length, 3);
});
