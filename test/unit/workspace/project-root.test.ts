import { test } from "node:test";
import assert from "node:assert/strict";
import { inferProjectRoot } from "../../../server/env/workspace/project-root";
import { recordedReport } from "./recorded-reports";

const files = new Set(["calc.js", "calc.test.js", "test/calc.test.js", "package.json"]);

test("the copy's folder is recovered from the absolute paths in a recorded report", () => {
  assert.equal(inferProjectRoot(recordedReport("jest-failing.json"), files), "/tmp/wsgen/jest-calc");
  assert.equal(inferProjectRoot(recordedReport("vitest-failing.json"), files), "/tmp/wsgen/vitest-calc");
  assert.equal(inferProjectRoot(recordedReport("node-test-failing.jsonl"), files), "/tmp/wsgen/node-test-calc");
});

test("the folder most paths agree on wins, and no match gives null", () => {
  const text = "at x (/usr/lib/node/calc.js:1:1)\nat y (/tmp/run-1/calc.test.js:2:2)\nat z (/tmp/run-1/test/calc.test.js:3:3)";
  assert.equal(inferProjectRoot(text, files), "/tmp/run-1");
  assert.equal(inferProjectRoot("no paths here", files), null);
  assert.equal(inferProjectRoot("/etc/passwd", files), null);
});
