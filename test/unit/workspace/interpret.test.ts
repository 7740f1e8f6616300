import { test } from "node:test";
import assert from "node:assert/strict";
import { interpretRun, type FinishedRun, type RunDescription } from "../../../server/env/workspace/interpret";
import { tailOf } from "../../../server/env/workspace/output-tail";
import { RECORDED_ROOT, recordedReport } from "./recorded-reports";

function run(overrides: Partial<FinishedRun> = {}): FinishedRun {
  return {
    exitCode: 1,
    signal: null,
    termination: "exited",
    stdout: Buffer.from("collected 5 items\n3 failed, 2 passed\n"),
    stderr: Buffer.alloc(0),
    stdoutTruncated: false,
    stderrTruncated: false,
    wallMs: 900,
    ...overrides,
  };
}

const pytest: RunDescription = { runner: "pytest", commandText: "pytest", wallMs: 10_000, projectRoot: `${RECORDED_ROOT}/pytest-calc` };
const failingReport = Buffer.from(recordedReport("pytest-failing.xml"));

test("a run with a report gives exactly the report's tests", () => {
  const verdict = interpretRun(run(), failingReport, pytest);
  assert.equal(verdict.fallback, false);
  assert.equal(verdict.error, undefined);
  assert.equal(verdict.tests.length, 5);
});

test("a timeout keeps what the report has and adds a timeout for the run", () => {
  const verdict = interpretRun(run({ termination: "timeout", exitCode: null, signal: "SIGKILL" }), undefined, pytest);
  assert.deepEqual(verdict.tests.map((t) => [t.name, t.outcome]), [["pytest", "timeout"]]);
  assert.match(verdict.tests[0].trace ?? "", /^the test command did not finish within 10000 ms and was stopped\nstdout:\ncollected 5 items/);
});

test("running out of memory is out_of_memory for the run", () => {
  const verdict = interpretRun(run({ termination: "memory", oomKilled: true, exitCode: null, signal: "SIGKILL" }), undefined, pytest);
  assert.equal(verdict.tests[0].outcome, "out_of_memory");
});

test("a missing or corrupt report is an exception result and an error, never a throw", () => {
  const missing = interpretRun(run({ exitCode: 4 }), undefined, pytest);
  assert.equal(missing.error, "pytest wrote no JUnit XML report (the command exited with code 4)");
  assert.equal(missing.tests[0].outcome, "exception");
  const corrupt = interpretRun(run(), Buffer.from("\u0000\u00ff garbage"), pytest);
  assert.match(corrupt.error ?? "", /the pytest JUnit XML report is malformed/);
  const vitest = interpretRun(run(), Buffer.from("{}"), { ...pytest, runner: "vitest", commandText: "vitest run" });
  assert.match(vitest.error ?? "", /vitest JSON report is malformed: expected an object with a testResults array/);
  assert.equal(vitest.tests[0].name, "vitest run");
});

test("a report with no tests is not a pass", () => {
  const verdict = interpretRun(run({ exitCode: 5 }), Buffer.from("<testsuites><testsuite/></testsuites>"), pytest);
  assert.deepEqual(verdict.tests.map((t) => t.outcome), ["exception"]);
  assert.match(verdict.tests[0].trace ?? "", /^no tests ran/);
});

test("a failing exit status is not hidden by a report where everything passed", () => {
  const allPass = Buffer.from('<testsuites><testsuite><testcase classname="t" name="a" file="t.py"/></testsuite></testsuites>');
  assert.deepEqual(interpretRun(run({ exitCode: 0 }), allPass, pytest).tests.map((t) => t.outcome), ["passed"]);
  const crashed = interpretRun(run({ exitCode: 3 }), allPass, pytest);
  assert.deepEqual(crashed.tests.map((t) => t.outcome), ["passed", "exception"]);
  assert.match(crashed.tests[1].trace ?? "", /exited with code 3 although every reported test passed/);
});

test("fallback commands are judged by exit status and say so", () => {
  const description: RunDescription = { runner: "command", commandText: "make check", wallMs: 5_000, projectRoot: "/work" };
  assert.deepEqual(interpretRun(run({ exitCode: 0 }), undefined, description), {
    tests: [{ name: "make check", outcome: "passed", durationMs: 900 }],
    fallback: true,
  });
  const failed = interpretRun(run({ exitCode: 2, stderr: Buffer.from("make: *** [check] Error 2\n") }), undefined, description);
  assert.equal(failed.fallback, true);
  assert.equal(failed.tests[0].outcome, "wrong_answer");
  assert.equal(failed.tests[0].trace, "the test command exited with code 2\nstdout:\ncollected 5 items\n3 failed, 2 passed\nstderr:\nmake: *** [check] Error 2");
  const killed = interpretRun(run({ termination: "signaled", exitCode: null, signal: "SIGSEGV" }), undefined, description);
  assert.equal(killed.tests[0].outcome, "exception");
  assert.match(killed.tests[0].trace ?? "", /was killed by SIGSEGV/);
});

test("the output tail keeps the last lines and characters and marks the cut", () => {
  const long = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
  const tail = tailOf(long, 3, 1000);
  assert.equal(tail, "[… earlier output cut …]\nline 97\nline 98\nline 99");
  assert.equal(tailOf("abcdef", 10, 3), "[… earlier output cut …]\ndef");
  assert.equal(tailOf("short\n"), "short");
});
