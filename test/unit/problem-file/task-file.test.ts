import { test } from "node:test";
import assert from "node:assert/strict";
import { taskFileTask, userProblemTask } from "../../../server/env/tasks/task-file";

const good = JSON.stringify({
  kind: "stdio",
  statement: "Double n.",
  publicTests: [{ input: "3\n", output: "6\n" }],
  privateTests: [{ input: "5\n", output: "10\n" }],
  checker: { mode: "lines" },
  limits: { timeMs: 2000 },
});

test("a JSON task file becomes a stdio task with its own tests, checker and limits", () => {
  const t = taskFileTask(good, "double.json");
  assert.equal(t.kind, "stdio");
  assert.equal(t.id, "double.json");
  assert.deepEqual(t.publicTests, [{ input: "3\n", output: "6\n" }]);
  assert.deepEqual(t.privateTests, [{ input: "5\n", output: "10\n" }]);
  assert.deepEqual(t.checker, { mode: "lines" });
  assert.equal(t.limits.timeMs, 2000);
  assert.equal(t.limits.memoryBytes, 1024 ** 3);
});

test("userProblemTask picks JSON by extension and Markdown otherwise", () => {
  assert.equal(userProblemTask(good, "x.JSON").checker.mode, "lines");
  assert.equal(userProblemTask("T\n\n### Input\n```\n1\n```\n### Output\n```\n2\n```\n", "x.md").publicTests.length, 1);
});

test("malformed task files name the file and the field at fault", () => {
  const bad = (obj: unknown) => () => taskFileTask(typeof obj === "string" ? obj : JSON.stringify(obj), "t.json");
  assert.throws(bad("{"), /^Error: t\.json: not valid JSON|t\.json: not valid JSON/);
  assert.throws(bad([1]), /t\.json: a task file holds one JSON object/);
  assert.throws(bad({ kind: "function" }), /"kind" must be "stdio"/);
  assert.throws(bad({ kind: "stdio", statement: "" }), /"statement" must be a non-empty string/);
  assert.throws(bad({ kind: "stdio", statement: "s", publicTests: [] }), /needs at least one test/);
  assert.throws(bad({ kind: "stdio", statement: "s", publicTests: [{ input: 1, output: "2" }] }), /publicTests\[0\] must be/);
  assert.throws(bad({ kind: "stdio", statement: "s", publicTests: [{ input: "1", output: "2" }], checker: { mode: "fuzzy" } }), /checker\.mode/);
  assert.throws(bad({ kind: "stdio", statement: "s", publicTests: [{ input: "1", output: "2" }], limits: { timeMs: -1 } }), /limits\.timeMs must be a positive number/);
  assert.throws(bad({ kind: "stdio", statement: "s", publicTests: [{ input: "1", output: "2" }], language: "cobol" }), /"language" must be one of/);
});
