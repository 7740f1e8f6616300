import { test } from "node:test";
import assert from "node:assert/strict";
import { parseNodeTestJsonLines } from "../../../server/env/workspace/node-test-jsonl";
import { MalformedReportError } from "../../../server/env/workspace/report";
import { RECORDED_ROOT, recordedReport } from "./recorded-reports";

test("a recorded node --test report: assertion failures are wrong answers, thrown errors exceptions, traces show only user frames", () => {
  const tests = parseNodeTestJsonLines(recordedReport("node-test-failing.jsonl"), { projectRoot: `${RECORDED_ROOT}/node-test-calc` });
  assert.deepEqual(
    tests.map((t) => [t.name, t.outcome]),
    [
      ["test/calc.test.js > add adds", "wrong_answer"],
      ["test/calc.test.js > mean averages", "exception"],
      ["test/calc.test.js > mean of nothing throws", "passed"],
    ],
  );
  assert.match(tests[0].trace ?? "", /^AssertionError \[ERR_ASSERTION\]: Expected values to be strictly equal:\n\n-1 !== 5\n/);
  assert.match(tests[0].trace ?? "", /at TestContext.<anonymous> \(test\/calc\.test\.js:6:10\)/);
  assert.doesNotMatch(tests[0].trace ?? "", /node:internal|ERR_TEST_FAILURE/);
  assert.equal(tests[1].trace, "ReferenceError [Error]: vals is not defined\n    at mean (calc.js:8:46)\n    at TestContext.<anonymous> (test/calc.test.js:10:16)");
});

test("suites and subtests name the test by file and path; timeouts, skips and thrown strings are handled", () => {
  const tests = parseNodeTestJsonLines(recordedReport("node-test-nested.jsonl"), { projectRoot: `${RECORDED_ROOT}/nt2` });
  assert.deepEqual(
    tests.map((t) => [t.name, t.outcome]),
    [
      ["test/a.test.js > outer > inner > deep", "wrong_answer"],
      ["test/a.test.js > outer > ok", "passed"],
      ["test/a.test.js > slow", "timeout"],
      ["test/b.test.js > b passes", "passed"],
      ["test/b.test.js > throws string", "exception"],
      ["test/c.test.js > parent > child ok", "passed"],
      ["test/c.test.js > parent > child bad", "exception"],
      ["test/c.test.js > logs", "passed"],
    ],
  );
  assert.equal(tests[2].trace, "test timed out after 50ms");
  assert.equal(tests[4].trace, "plain");
  assert.match(tests[6].trace ?? "", /^TypeError \[Error\]: nope\n\s+at TestContext.<anonymous> \(test\/c\.test\.js:4:43\)/);
});

test("a test file that fails as a whole is named by its path and shows what it printed", () => {
  const tests = parseNodeTestJsonLines(recordedReport("node-test-file-error.jsonl"), { projectRoot: `${RECORDED_ROOT}/node-test-calc` });
  assert.equal(tests.length, 1);
  assert.equal(tests[0].name, "test/calc.test.js");
  assert.equal(tests[0].outcome, "exception");
  assert.match(tests[0].trace ?? "", /^test failed \(the test file exited with code 1\)\ncalc\.js:13\n\nSyntaxError: Unexpected end of input\n\s+at Object.<anonymous> \(test\/calc\.test\.js:3:23\)/);
});

test("malformed lines are MalformedReportErrors naming the line", () => {
  const context = { projectRoot: "/work" };
  const good = '{"v":1,"kind":"test","file":null,"path":["a"],"outcome":"passed","failureType":null,"assertion":false,"error":null,"durationMs":1}';
  const cases: Array<[string, RegExp]> = [
    [`${good}\n{"v":1,"kind":"te\n`, /line 2: .*JSON/],
    ["[1]", /line 1: not a JSON object/],
    ['{"v":2,"kind":"test"}', /format version 2, expected 1/],
    ['{"v":1,"kind":"other","file":null}', /unknown kind "other"/],
    ['{"v":1,"kind":"test","file":null,"path":[],"outcome":"passed"}', /path must be a non-empty list/],
    ['{"v":1,"kind":"test","file":null,"path":["a"],"outcome":"won","error":null}', /outcome "won"/],
    ['{"v":1,"kind":"test","file":7,"path":["a"],"outcome":"passed","error":null}', /file must be a string or null/],
    ['{"v":1,"kind":"output","file":null,"text":5}', /output text must be a string/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseNodeTestJsonLines(text.endsWith("\n") ? text : `${text}\n`, context),
      (error: unknown) => error instanceof MalformedReportError && message.test(error.message) && /node --test JSON lines/.test(error.message),
      text,
    );
  }
  assert.deepEqual(parseNodeTestJsonLines(`\n${good}\n\n`, context), [{ name: "a", outcome: "passed", durationMs: 1 }]);
  // A run stopped while the reporter was writing leaves a cut last line without its newline.
  assert.deepEqual(parseNodeTestJsonLines(`${good}\n{"v":1,"kind":"test","fi`, context), [{ name: "a", outcome: "passed", durationMs: 1 }]);
});
