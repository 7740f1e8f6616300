import { test } from "node:test";
import assert from "node:assert/strict";
import { NODE_TEST_REPORTER_SOURCE } from "../../../server/env/workspace/node-test-reporter";
import { normalizeCommand, UnsupportedCommandError, withReportFlags } from "../../../server/env/workspace/runner-command";

test("pytest gets its JUnit report, no cache provider and no bytecode", () => {
  assert.deepEqual(withReportFlags("pytest", ["pytest", "-x", "tests"], "r.xml"), {
    argv: ["python3", "-m", "pytest", "-x", "tests", "-p", "no:cacheprovider", "-o", "junit_family=xunit1", "--junitxml=r.xml"],
    env: { CI: "1", NO_COLOR: "1", FORCE_COLOR: "0", PYTHONDONTWRITEBYTECODE: "1" },
    files: {},
  });
});

test("node --test gets our reporter module, written beside the report, before the test files", () => {
  const { argv, files } = withReportFlags("node-test", ["node", "--test", "test/a.test.js"], ".rlef-report-1.jsonl");
  assert.deepEqual(argv, [
    "node",
    "--test-reporter=./.rlef-report-1-reporter.mjs",
    "--test-reporter-destination=.rlef-report-1.jsonl",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test",
    "test/a.test.js",
  ]);
  assert.deepEqual(Object.keys(files), [".rlef-report-1-reporter.mjs"]);
  assert.equal(files[".rlef-report-1-reporter.mjs"], NODE_TEST_REPORTER_SOURCE);
});

test("jest and vitest launchers become node running the installed package", () => {
  assert.deepEqual(withReportFlags("jest", ["npx", "jest", "calc"], "/work/r.json").argv, [
    "node", "node_modules/jest/bin/jest.js", "calc", "--ci", "--runInBand", "--no-watchman", "--json", "--outputFile=/work/r.json",
  ]);
  assert.deepEqual(withReportFlags("vitest", ["vitest"], "/work/r.json").argv, ["node", "node_modules/vitest/vitest.mjs", "run", "--reporter=json", "--outputFile=/work/r.json"]);
  assert.deepEqual(withReportFlags("vitest", ["./node_modules/.bin/vitest", "run", "x"], "/r").argv, ["node", "node_modules/vitest/vitest.mjs", "run", "x", "--reporter=json", "--outputFile=/r"]);
});

test("a fallback command runs as given, with no report flags", () => {
  assert.deepEqual(withReportFlags("command", ["make", "check"], "/work/r").argv, ["make", "check"]);
});

test("commands a runner cannot get a report from are refused", () => {
  const cases: Array<[Parameters<typeof normalizeCommand>[0], string[]]> = [
    ["pytest", ["npm", "test"]],
    ["pytest", ["python3", "tests.py"]],
    ["node-test", ["node", "test.js"]],
    ["jest", ["npm", "test"]],
    ["vitest", ["npx"]],
    ["command", []],
    ["command", ["a\0b"]],
  ];
  for (const [runner, command] of cases) {
    assert.throws(() => normalizeCommand(runner, command), UnsupportedCommandError, `${runner}: ${JSON.stringify(command)}`);
  }
});
