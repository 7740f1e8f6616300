import { test } from "node:test";
import assert from "node:assert/strict";
import { parseNodeTestJunit } from "../../../server/env/workspace/node-test-junit";
import { MalformedReportError } from "../../../server/env/workspace/report";
import { RECORDED_ROOT, recordedReport } from "./recorded-reports";

test("a recorded node --test report: assertion failures are wrong answers, thrown errors exceptions, traces show only user frames", () => {
  const tests = parseNodeTestJunit(recordedReport("node-test-failing.xml"), { projectRoot: `${RECORDED_ROOT}/node-test-calc` });
  assert.deepEqual(
    tests.map((t) => [t.name, t.outcome]),
    [
      ["add adds", "wrong_answer"],
      ["mean averages", "exception"],
      ["mean of nothing throws", "passed"],
    ],
  );
  assert.match(tests[0].trace ?? "", /^AssertionError \[ERR_ASSERTION\]: Expected values to be strictly equal/);
  assert.match(tests[0].trace ?? "", /-1 !== 5/);
  assert.match(tests[0].trace ?? "", /at TestContext.<anonymous> \(test\/calc\.test\.js:6:10\)/);
  assert.doesNotMatch(tests[0].trace ?? "", /node:internal|ERR_TEST_FAILURE/);
  assert.equal(tests[1].trace, "ReferenceError [Error]: vals is not defined\n    at mean (calc.js:8:46)\n    at TestContext.<anonymous> (test/calc.test.js:10:16)");
});

test("nested suites name the test by its path; timeouts and skipped tests are handled", () => {
  const tests = parseNodeTestJunit(recordedReport("node-test-nested.xml"), { projectRoot: `${RECORDED_ROOT}/nt2` });
  assert.deepEqual(
    tests.map((t) => [t.name, t.outcome]),
    [
      ["outer > inner > deep", "wrong_answer"],
      ["outer > ok", "passed"],
      ["slow", "timeout"],
      ["b passes", "passed"],
      ["throws string", "exception"],
    ],
  );
  assert.equal(tests[2].trace, "test timed out after 50ms");
  assert.equal(tests[4].trace, "plain");
});

test("a test file that fails as a whole is named by its relative path", () => {
  const tests = parseNodeTestJunit(recordedReport("node-test-file-error.xml"), { projectRoot: `${RECORDED_ROOT}/node-test-calc` });
  assert.deepEqual(tests, [
    { name: "test/calc.test.js", outcome: "exception", trace: "test failed (the test file exited with code 1)", durationMs: 55 },
  ]);
});

test("malformed and foreign reports are MalformedReportErrors", () => {
  const context = { projectRoot: "/work" };
  for (const xml of ["", "<testsuites>", '{"testResults": []}', "<testsuite/>", "<testsuites><testcase/></testsuites>"]) {
    assert.throws(() => parseNodeTestJunit(xml, context), MalformedReportError, JSON.stringify(xml));
  }
});
