import { test } from "node:test";
import assert from "node:assert/strict";
import { parseJestLikeJson } from "../../../server/env/workspace/jest-json";
import { MalformedReportError } from "../../../server/env/workspace/report";
import { RECORDED_ROOT, recordedReport } from "./recorded-reports";

for (const runner of ["jest", "vitest"] as const) {
  const context = { projectRoot: `${RECORDED_ROOT}/${runner}-calc` };

  test(`a recorded ${runner} report: file > describe > test names, outcomes, traces trimmed to the user's code`, () => {
    const tests = parseJestLikeJson(recordedReport(`${runner}-failing.json`), runner, context);
    assert.deepEqual(
      tests.map((t) => [t.name, t.outcome]),
      [
        ["calc.test.js > calc > add adds", "wrong_answer"],
        ["calc.test.js > calc > mean averages", "exception"],
        ["calc.test.js > calc > mean of nothing throws", "passed"],
      ],
    );
    assert.match(tests[0].trace ?? "", /-1/);
    assert.match(tests[1].trace ?? "", /^ReferenceError: vals is not defined\n\s+at \S+ \(calc\.js:8:46\)/);
    for (const t of tests) assert.doesNotMatch(t.trace ?? "", /node_modules|\/tmp\/wsgen/);
  });

  test(`a ${runner} test file that failed to load is one exception named by the file`, () => {
    const tests = parseJestLikeJson(recordedReport(`${runner}-suite-error.json`), runner, context);
    assert.equal(tests.length, 1);
    assert.equal(tests[0].name, "calc.test.js");
    assert.equal(tests[0].outcome, "exception");
    assert.match(tests[0].trace ?? "", runner === "jest" ? /SyntaxError: calc\.js: Unexpected token/ : /invalid JS syntax/);
  });
}

test("timeouts and skipped tests in a jest-shaped report", () => {
  const report = JSON.stringify({
    testResults: [
      {
        name: "/work/a.test.js",
        status: "failed",
        assertionResults: [
          { ancestorTitles: [], title: "slow", status: "failed", failureMessages: ['thrown: "Exceeded timeout of 5000 ms for a test.'] },
          { ancestorTitles: [], title: "vslow", status: "failed", failureMessages: ["Error: Test timed out in 5000ms."] },
          { ancestorTitles: [], title: "later", status: "pending", failureMessages: [] },
          { ancestorTitles: [], title: "todo", status: "todo", failureMessages: [] },
        ],
      },
    ],
  });
  assert.deepEqual(
    parseJestLikeJson(report, "jest", { projectRoot: "/work" }).map((t) => [t.name, t.outcome]),
    [
      ["a.test.js > slow", "timeout"],
      ["a.test.js > vslow", "timeout"],
    ],
  );
});

test("malformed JSON reports are MalformedReportErrors saying what is wrong", () => {
  const context = { projectRoot: "/work" };
  const cases: Array<[string, RegExp]> = [
    ['{"testResults": [', /JSON/],
    ["[]", /testResults array/],
    ['{"testResults": [{"name": 1, "assertionResults": []}]}', /testResults\[0\] needs a string name/],
    ['{"testResults": [{"name": "a", "assertionResults": [{"title": "t"}]}]}', /assertionResults\[0\] needs a string title and status/],
    ['{"testResults": [{"name": "a", "assertionResults": [{"title": "t", "status": "failed", "failureMessages": [1]}]}]}', /non-string/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseJestLikeJson(text, "vitest", context),
      (error: unknown) => error instanceof MalformedReportError && message.test(error.message) && /vitest JSON/.test(error.message),
      text,
    );
  }
});

test("colour escapes are stripped from failure messages", () => {
  const esc = String.fromCharCode(0x1b);
  const report = JSON.stringify({
    testResults: [
      {
        name: "/work/a.test.js",
        status: "failed",
        assertionResults: [{ ancestorTitles: ["s"], title: "t", status: "failed", failureMessages: [`Error: expect(${esc}[31mreceived${esc}[39m).toBe(1)`] }],
      },
    ],
  });
  const [only] = parseJestLikeJson(report, "jest", { projectRoot: "/work" });
  assert.equal(only.trace, "Error: expect(received).toBe(1)");
  assert.equal(only.outcome, "wrong_answer");
});
