import { test } from "node:test";
import assert from "node:assert/strict";
import { buildWorkspaceTask, DEFAULT_WORKSPACE_LIMITS } from "../../../server/env/workspace/task";
import { fixturePath } from "./workspace-fixtures";

test("the runner and command are detected when not given", async () => {
  const task = await buildWorkspaceTask({ id: "t1", root: fixturePath("vitest-calc"), target: { file: "./calc.js", startLine: 2, endLine: 4 } });
  assert.deepEqual(task, {
    kind: "workspace",
    id: "t1",
    set: "workspace",
    language: "javascript",
    root: fixturePath("vitest-calc"),
    target: { file: "calc.js", startLine: 2, endLine: 4 },
    runner: "vitest",
    command: ["node", "node_modules/vitest/vitest.mjs", "run"],
    limits: DEFAULT_WORKSPACE_LIMITS,
  });
});

test("a named runner and command win over detection", async () => {
  const task = await buildWorkspaceTask({ id: "t2", root: fixturePath("pytest-calc"), target: { file: "calc.py" }, runner: "command", command: ["make", "test"] });
  assert.equal(task.runner, "command");
  assert.deepEqual(task.command, ["make", "test"]);
  assert.equal(task.language, "python");
  const defaulted = await buildWorkspaceTask({ id: "t3", root: fixturePath("pytest-calc"), target: { file: "calc.py" }, runner: "jest" });
  assert.deepEqual(defaulted.command, ["node", "node_modules/jest/bin/jest.js"]);
});

test("requests that cannot become a task say what to do", async () => {
  await assert.rejects(buildWorkspaceTask({ id: "x", root: "/nonexistent/empty", target: { file: "a.py" } }), /cannot tell which test runner.*name one/);
  await assert.rejects(buildWorkspaceTask({ id: "x", root: "rel", target: { file: "a.py" } }), /must be an absolute path/);
  await assert.rejects(buildWorkspaceTask({ id: "x", root: fixturePath("pytest-calc"), target: { file: "../a.py" } }), /not inside the project/);
  await assert.rejects(buildWorkspaceTask({ id: "x", root: fixturePath("pytest-calc"), target: { file: "a.py" }, runner: "command" }), /needs the command to run/);
  await assert.rejects(buildWorkspaceTask({ id: "x", root: fixturePath("pytest-calc"), target: { file: "a.py" }, runner: "pytest", command: ["npm", "test"] }), /pytest runner needs a command/);
});
