import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox } from "../../../server/env/sandbox";
import type { Sandbox } from "../../../server/env/sandbox/types";
import { runWorkspaceTests } from "../../../server/env/run/workspace";
import { fingerprintTree } from "./tree-fingerprint";
import { fixtureFile, fixturePath, removeTree, workspaceTask } from "./workspace-fixtures";

let sandbox: Sandbox;
before(async () => {
  sandbox = await createSandbox();
});
after(async () => {
  await sandbox.dispose();
});

const pytestRoot = fixturePath("pytest-calc");
const pytestTask = workspaceTask(pytestRoot, "pytest", ["pytest"], { file: "calc.py" });
const calcPy = fixtureFile("pytest-calc", "calc.py");

test("a candidate that deletes the report at exit gets a clear 'no report' result, not a crash", async () => {
  const candidate = `${calcPy}\nimport atexit, glob, os\natexit.register(lambda: [os.remove(p) for p in glob.glob("/work/.rlef-report-*")])\n`;
  const report = await runWorkspaceTests(pytestTask, candidate, { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.match(report.error ?? "", /pytest wrote no JUnit XML report \(the command exited with code 0\)/);
  assert.equal(report.results.length, 1);
  assert.equal(report.results[0].outcome, "exception");
  assert.equal(report.results[0].name, "pytest");
  assert.match(report.results[0].trace ?? "", /5 passed/, "the output tail is shown");
});

test("a candidate that corrupts the report gets a clear 'malformed report' result", async () => {
  const candidate = `${calcPy}\nimport atexit, glob\natexit.register(lambda: [open(p, "w").write("<testsuites><testcase") for p in glob.glob("/work/.rlef-report-*")])\n`;
  const report = await runWorkspaceTests(pytestTask, candidate, { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.match(report.error ?? "", /the pytest JUnit XML report is malformed/);
  assert.equal(report.results[0].outcome, "exception");
});

test("a candidate that never finishes is a timeout result for the run", async () => {
  const task = workspaceTask(pytestRoot, "pytest", ["pytest"], { file: "calc.py" }, { limits: { timeMs: 4_000, memoryBytes: 1024 ** 3 } });
  const report = await runWorkspaceTests(task, `${calcPy}\nwhile True:\n    pass\n`, { sandbox, which: "public" });
  assert.equal(report.passed, false);
  assert.deepEqual(report.results.map((r) => [r.name, r.outcome]), [["pytest", "timeout"]]);
  assert.match(report.results[0].trace ?? "", /did not finish within 4000 ms/);
});

test("a candidate that exhausts memory is an out-of-memory result for the run", async () => {
  const task = workspaceTask(pytestRoot, "pytest", ["pytest"], { file: "calc.py" }, { limits: { timeMs: 120_000, memoryBytes: 256 * 1024 ** 2 } });
  const report = await runWorkspaceTests(task, `${calcPy}\nhog = bytearray(1024 ** 3)\n`, { sandbox, which: "public" });
  assert.equal(report.passed, false);
  const outcomes = report.results.map((r) => r.outcome);
  // Killed by the cgroup (the run ends) or a MemoryError pytest catches and reports per test file.
  assert.ok(outcomes.includes("out_of_memory") || report.results.every((r) => /MemoryError/.test(r.trace ?? "")), JSON.stringify(report.results));
});

test("writes outside the copy, into read-only node_modules, and deletions in the copy are all contained", async () => {
  const root = mkdtempSync(join(tmpdir(), "rlef-ws-hostile-"));
  try {
    cpSync(fixturePath("node-test-calc"), root, { recursive: true });
    mkdirSync(join(root, "node_modules", "leftpad"), { recursive: true });
    writeFileSync(join(root, "node_modules", "leftpad", "index.js"), "module.exports = 1;\n");
    const before = fingerprintTree(root);
    const candidate = `
const fs = require("node:fs");
const path = require("node:path");
const attempts = {};
const tries = {
  overwriteDependency: () => fs.writeFileSync(path.join(__dirname, "node_modules/leftpad/index.js"), "hacked"),
  addToNodeModules: () => fs.writeFileSync(path.join(__dirname, "node_modules/evil.js"), "x"),
  writeProjectOnHost: () => fs.writeFileSync(${JSON.stringify(join(root, "evil.txt"))}, "x"),
  deleteInCopy: () => fs.rmSync(path.join(__dirname, "package.json")),
};
for (const [what, attempt] of Object.entries(tries)) {
  try { attempt(); attempts[what] = "done"; } catch (error) { attempts[what] = error.code; }
}
function add() { throw new Error("attempts " + JSON.stringify(attempts)); }
function mean(values) { return values.reduce((s, v) => s + v, 0) / values.length; }
module.exports = { add, mean };
`;
    const task = workspaceTask(root, "node-test", ["node", "--test"], { file: "calc.js" });
    const report = await runWorkspaceTests(task, candidate, { sandbox, which: "public" });
    assert.equal(report.passed, false);
    const trace = report.results.find((r) => r.name === "test/calc.test.js > add adds")?.trace ?? "";
    assert.match(trace, /"overwriteDependency":"EROFS"/);
    assert.match(trace, /"addToNodeModules":"EROFS"/);
    assert.match(trace, /"writeProjectOnHost":"ENOENT"/, "the host's project path does not exist inside the sandbox");
    assert.match(trace, /"deleteInCopy":"done"/, "the copy is the candidate's to wreck");
    assert.deepEqual(fingerprintTree(root), before);
    assert.equal(readFileSync(join(root, "node_modules", "leftpad", "index.js"), "utf8"), "module.exports = 1;\n");
    assert.equal(existsSync(join(root, "evil.txt")), false);
  } finally {
    removeTree(root);
  }
});

test("a jest project without node_modules gets a clear result naming the missing runner", async () => {
  const root = mkdtempSync(join(tmpdir(), "rlef-ws-nodeps-"));
  try {
    cpSync(fixturePath("jest-calc"), root, { recursive: true });
    const report = await runWorkspaceTests(workspaceTask(root, "jest", ["jest"], { file: "calc.js" }), fixtureFile("jest-calc", "calc.js"), { sandbox, which: "public" });
    assert.equal(report.passed, false);
    assert.match(report.error ?? "", /jest wrote no JSON report/);
    assert.match(report.results[0].trace ?? "", /Cannot find module '\/work\/node_modules\/jest\/bin\/jest\.js'/);
  } finally {
    removeTree(root);
  }
});

test("any other command falls back to its exit status and output tail, and says so", async () => {
  const script = "import sys, calc\nprint('checking add')\nsys.exit(0 if calc.add(2, 3) == 5 else 3)";
  const task = workspaceTask(pytestRoot, "command", ["python3", "-c", script], { file: "calc.py" });
  const failing = await runWorkspaceTests(task, calcPy.replace("return a + b", "return a - b"), { sandbox, which: "public" });
  assert.equal(failing.fallback, true);
  assert.equal(failing.passed, false);
  assert.equal(failing.results.length, 1);
  assert.equal(failing.results[0].outcome, "wrong_answer");
  assert.match(failing.results[0].trace ?? "", /^the test command exited with code 3\nstdout:\nchecking add$/);
  const passing = await runWorkspaceTests(task, calcPy, { sandbox, which: "public" });
  assert.equal(passing.fallback, true);
  assert.equal(passing.passed, true);
});

test("bad tasks are reported as errors before any run", async () => {
  const cases: Array<[string, Parameters<typeof workspaceTask>, RegExp]> = [
    ["a target outside the project", [pytestRoot, "pytest", ["pytest"], { file: "../outside.py" }], /is not inside the project/],
    ["an absolute target", [pytestRoot, "pytest", ["pytest"], { file: "/etc/passwd" }], /must be relative/],
    ["a line range past the end", [pytestRoot, "pytest", ["pytest"], { file: "calc.py", startLine: 10, endLine: 99 }], /runs past the end of calc\.py/],
    ["half a line range", [pytestRoot, "pytest", ["pytest"], { file: "calc.py", startLine: 3 }], /needs both startLine and endLine/],
    ["a missing project", ["/nonexistent/project", "pytest", ["pytest"], { file: "calc.py" }], /cannot be read/],
    ["a relative project root", ["relative/project", "pytest", ["pytest"], { file: "calc.py" }], /must be an absolute path/],
    ["a command the runner cannot report from", [pytestRoot, "jest", ["make", "test"], { file: "calc.py" }], /jest runner needs a command like/],
    ["an empty command", [pytestRoot, "command", [], { file: "calc.py" }], /non-empty list/],
    ["a target inside a read-only folder", [pytestRoot, "pytest", ["pytest"], { file: "tests/test_calc.py" }, { readOnlyDirs: ["tests"] }], /inside tests, which is mounted read-only/],
    ["a folder as the target", [pytestRoot, "pytest", ["pytest"], { file: "tests" }], /the target tests is a folder/],
    ["a read-only folder given from outside the project", [pytestRoot, "pytest", ["pytest"], { file: "calc.py" }, { readOnlyDirs: ["../.."] }], /must be a folder inside the project/],
  ];
  for (const [what, args, message] of cases) {
    const report = await runWorkspaceTests(workspaceTask(...args), "x = 1\n", { sandbox, which: "public" });
    assert.equal(report.passed, false, what);
    assert.deepEqual(report.results, [], what);
    assert.match(report.error ?? "", message, what);
  }
});
