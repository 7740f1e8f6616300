import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePytestJunit } from "../../../server/env/workspace/pytest-junit";
import { MalformedReportError } from "../../../server/env/workspace/report";
import { RECORDED_ROOT, recordedReport } from "./recorded-reports";

const context = { projectRoot: `${RECORDED_ROOT}/pytest-calc` };

test("a recorded pytest report gives node ids, outcomes and traces for every test, unittest included", () => {
  const tests = parsePytestJunit(recordedReport("pytest-failing.xml"), context);
  assert.deepEqual(
    tests.map((t) => [t.name, t.outcome]),
    [
      ["tests/test_calc.py::test_add", "wrong_answer"],
      ["tests/test_calc.py::test_sub", "passed"],
      ["tests/test_calc.py::test_mean", "exception"],
      ["tests/test_calc.py::test_mean_empty_raises", "passed"],
      ["tests/test_calc_unittest.py::AddTests::test_add_negative", "wrong_answer"],
    ],
  );
  const add = tests[0];
  assert.match(add.trace ?? "", /E\s+assert -1 == 5/);
  const mean = tests[2];
  assert.match(mean.trace ?? "", /NameError: name 'vals' is not defined/);
  assert.match(mean.trace ?? "", /^calc\.py:15: NameError$/m, "paths are relative to the project");
  assert.equal(tests[1].trace, undefined);
});

test("a collection error (syntax error in the candidate) is an exception named by the test file, without pytest's frames", () => {
  const tests = parsePytestJunit(recordedReport("pytest-collection-error.xml"), { projectRoot: `${RECORDED_ROOT}/pytest-syntax` });
  assert.deepEqual(
    tests.map((t) => [t.name, t.outcome]),
    [
      ["tests/test_calc.py", "exception"],
      ["tests/test_calc_unittest.py", "exception"],
    ],
  );
  const trace = tests[0].trace ?? "";
  assert.match(trace, /SyntaxError: invalid syntax/);
  assert.match(trace, /File "calc\.py", line 16/);
  assert.doesNotMatch(trace, /_pytest|importlib|site-packages/);
});

test("a report without file attributes (xunit2) still names tests by class and name", () => {
  const tests = parsePytestJunit(recordedReport("pytest-failing-xunit2.xml"), context);
  assert.equal(tests[0].name, "tests.test_calc::test_add");
  assert.equal(tests.length, 5);
});

test("skipped tests are left out; timeouts and missing raises are classified", () => {
  const xml = `<testsuites><testsuite>
    <testcase classname="t" name="skipped" file="t.py"><skipped message="no"/></testcase>
    <testcase classname="t" name="slow" file="t.py"><failure message="Failed: Timeout &gt;1.0s">x</failure></testcase>
    <testcase classname="t" name="raises" file="t.py"><failure message="Failed: DID NOT RAISE &lt;class 'ValueError'&gt;">x</failure></testcase>
    <testcase classname="t" name="fixture" file="t.py"><error message="failed on setup">x</error></testcase>
  </testsuite></testsuites>`;
  assert.deepEqual(
    parsePytestJunit(xml, context).map((t) => [t.name, t.outcome]),
    [
      ["t.py::slow", "timeout"],
      ["t.py::raises", "wrong_answer"],
      ["t.py::fixture", "exception"],
    ],
  );
});

test("a truncated report is a MalformedReportError naming the format", () => {
  const full = recordedReport("pytest-failing.xml");
  assert.throws(
    () => parsePytestJunit(full.slice(0, Math.floor(full.length / 2)), context),
    (error: unknown) => error instanceof MalformedReportError && /pytest JUnit XML report is malformed/.test(error.message),
  );
});

test("well-formed XML that is not a JUnit report is rejected", () => {
  assert.throws(() => parsePytestJunit("<html><body/></html>", context), /root element is <html>/);
  assert.throws(() => parsePytestJunit("<testsuites><testcase/></testsuites>", context), /neither classname nor name/);
});
