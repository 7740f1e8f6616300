import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox, resolveInterpreter } from "../../../server/env/sandbox";
import type { Sandbox } from "../../../server/env/sandbox/types";
import { runWorkspaceTests } from "../../../server/env/run/workspace";
import { cacheFoldersIn, fingerprintTree } from "./tree-fingerprint";
import { removeTree, workspaceTask } from "./workspace-fixtures";

let sandbox: Sandbox;
let root: string;

before(async () => {
  sandbox = await createSandbox();
  root = mkdtempSync(join(tmpdir(), "rlef-ws-venv-"));
  // A project whose dependency lives only in its own virtual environment (pytest comes from the base).
  const python = await resolveInterpreter("python3");
  execFileSync(python, ["-m", "venv", "--system-site-packages", "--without-pip", join(root, ".venv")]);
  const lib = join(root, ".venv", "lib");
  const sitePackages = join(lib, readdirSync(lib)[0], "site-packages");
  writeFileSync(join(sitePackages, "greeting_dep.py"), "def greet(name):\n    return 'hello ' + name\n");
  mkdirSync(join(root, "tests"));
  writeFileSync(join(root, "pytest.ini"), "[pytest]\npythonpath = .\n");
  writeFileSync(join(root, "app.py"), "from greeting_dep import greet\n\ndef welcome(name):\n    return greet(name) + '!'\n");
  writeFileSync(join(root, "tests", "test_app.py"), "from app import welcome\n\ndef test_welcome():\n    assert welcome('ann') == 'hello ann!'\n");
});

after(async () => {
  await sandbox.dispose();
  removeTree(root);
});

test("pytest runs with the project's virtual environment, mounted read-only, and leaves the project untouched", async () => {
  const before = fingerprintTree(root);
  const task = workspaceTask(root, "pytest", ["pytest"], { file: "app.py" });
  const good = await runWorkspaceTests(task, "from greeting_dep import greet\n\ndef welcome(name):\n    return greet(name) + '!'\n", { sandbox, which: "public" });
  assert.equal(good.passed, true, JSON.stringify(good.results));
  const bad = await runWorkspaceTests(task, "from greeting_dep import greet\n\ndef welcome(name):\n    return greet(name)\n", { sandbox, which: "public" });
  assert.deepEqual(bad.results.map((r) => [r.name, r.outcome]), [["tests/test_app.py::test_welcome", "wrong_answer"]]);
  const afterRun = fingerprintTree(root);
  assert.deepEqual(afterRun, before);
  assert.deepEqual(cacheFoldersIn(afterRun), []);
});
