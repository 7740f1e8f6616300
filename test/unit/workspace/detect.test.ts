import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectTestRunner } from "../../../server/env/workspace/detect";
import { fixturePath, removeTree } from "./workspace-fixtures";

const made: string[] = [];
after(() => made.forEach(removeTree));

function project(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "rlef-detect-"));
  made.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

test("the fixture projects are detected as what they are", async () => {
  const expected: Record<string, string> = { "pytest-calc": "pytest", "node-test-calc": "node-test", "jest-calc": "jest", "vitest-calc": "vitest" };
  for (const [name, runner] of Object.entries(expected)) {
    assert.equal((await detectTestRunner(fixturePath(name)))?.runner, runner, name);
  }
});

test("package.json's test script wins over its dependencies", async () => {
  const root = project({ "package.json": JSON.stringify({ scripts: { test: "vitest run" }, devDependencies: { jest: "29" } }) });
  assert.deepEqual(await detectTestRunner(root), { runner: "vitest", command: ["node", "node_modules/vitest/vitest.mjs", "run"], reason: "package.json scripts.test runs vitest" });
});

test("pytest is recognised from its configuration or its test files", async () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ "pyproject.toml": "[project]\nname='x'\n\n[tool.pytest.ini_options]\naddopts='-q'\n" }, "pyproject.toml [tool.pytest.ini_options]"],
    [{ "setup.cfg": "[tool:pytest]\n" }, "setup.cfg [tool:pytest]"],
    [{ "conftest.py": "" }, "conftest.py"],
    [{ "tests/test_x.py": "" }, "test file tests/test_x.py"],
    [{ "calc_test.py": "" }, "test file calc_test.py"],
  ];
  for (const [files, reason] of cases) {
    const found = await detectTestRunner(project(files));
    assert.deepEqual(found, { runner: "pytest", command: ["python3", "-m", "pytest"], reason });
  }
});

test("nothing recognisable, or an unreadable package.json alone, gives null or node --test", async () => {
  assert.equal(await detectTestRunner(project({ "README.md": "hi" })), null);
  assert.equal(await detectTestRunner(project({ "pyproject.toml": "[project]\nname='x'\n" })), null);
  assert.equal((await detectTestRunner(project({ "package.json": "{not json" })))?.runner, "node-test");
  assert.equal(await detectTestRunner("/nonexistent/project"), null);
});
