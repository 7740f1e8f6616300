import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { snapshotProject, SnapshotError } from "../../../server/env/workspace/snapshot";
import { removeTree } from "./workspace-fixtures";

let root: string;
let outside: string;

before(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "rlef-snap-")));
  outside = realpathSync(mkdtempSync(join(tmpdir(), "rlef-snap-outside-")));
  const files: Record<string, string> = {
    "src/calc.py": "x = 1\n",
    "tests/test_calc.py": "def test(): pass\n",
    "node_modules/pkg/index.js": "",
    "web/node_modules/pkg/index.js": "",
    ".git/HEAD": "ref: refs/heads/main\n",
    "env/pyvenv.cfg": "home = /usr/bin\n",
    "env/lib/site.py": "",
    "__pycache__/calc.cpython-311.pyc": "",
    "tests/__pycache__/x.pyc": "",
    ".pytest_cache/v/cache": "",
    "data/big.bin": "0123456789",
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  writeFileSync(join(outside, "secret.txt"), "secret");
  symlinkSync(join(outside, "secret.txt"), join(root, "leak.txt"));
  symlinkSync(outside, join(root, "leakdir"));
  symlinkSync("src/calc.py", join(root, "alias.py"));
  symlinkSync("missing", join(root, "broken"));
  mkdirSync(join(outside, "node_modules"));
  symlinkSync(join(outside, "node_modules"), join(root, "linked_modules"));
});

after(() => {
  removeTree(root);
  removeTree(outside);
});

test("copies the project's own files, mounts dependency folders read-only, leaves caches and outside links out", async () => {
  const snapshot = await snapshotProject(root, ["data"]);
  assert.equal(snapshot.root, root);
  assert.deepEqual([...snapshot.files.keys()].sort(), ["alias.py", "src/calc.py", "tests/test_calc.py"]);
  assert.equal(snapshot.files.get("alias.py")?.toString(), "x = 1\n");
  assert.deepEqual(
    snapshot.readOnlyDirs.map((d) => [d.path, d.host]).sort(),
    [
      [".git", join(root, ".git")],
      ["data", join(root, "data")],
      ["env", join(root, "env")],
      ["node_modules", join(root, "node_modules")],
      ["web/node_modules", join(root, "web/node_modules")],
    ].sort(),
  );
  assert.ok(snapshot.skipped.includes("leak.txt: link to a file outside the project"));
  assert.ok(snapshot.skipped.includes("leakdir: link to a folder outside the project"));
  assert.ok(snapshot.skipped.includes("broken: broken symbolic link"));
  assert.ok(snapshot.skipped.includes("__pycache__: cache folder"));
  assert.ok(snapshot.skipped.includes(".pytest_cache: cache folder"));
  assert.ok(snapshot.skipped.includes("tests/__pycache__: cache folder"));
  assert.equal(snapshot.totalBytes, "x = 1\n".length * 2 + "def test(): pass\n".length);
});

test("a node_modules link leaving the project is mounted from where it really is", async () => {
  symlinkSync(join(outside, "node_modules"), join(root, "web", "node_modules2"));
  const snapshot = await snapshotProject(root);
  // Named node_modules only at its real place; a link named otherwise is not a dependency folder.
  assert.ok(snapshot.skipped.includes("web/node_modules2: link to a folder outside the project"));
  assert.ok(snapshot.skipped.includes("linked_modules: link to a folder outside the project"));
});

test("projects over the size or file-count limits are refused with a message naming the fix", async () => {
  await assert.rejects(snapshotProject(root, [], { maxFiles: 2, maxBytes: 1e9 }), (e: unknown) => e instanceof SnapshotError && /more than 2 files.*readOnlyDirs/.test(e.message));
  await assert.rejects(snapshotProject(root, [], { maxFiles: 100, maxBytes: 8 }), (e: unknown) => e instanceof SnapshotError && /exceed 8 bytes/.test(e.message));
});

test("a root that is relative, missing or a file is refused", async () => {
  await assert.rejects(snapshotProject("relative"), /must be an absolute path/);
  await assert.rejects(snapshotProject(join(root, "nope")), /cannot be read/);
  await assert.rejects(snapshotProject(join(root, "src", "calc.py")), /cannot be read: not a folder/);
});

test("readOnlyDirs entries must name folders inside the project", async () => {
  for (const bad of ["../elsewhere", "/abs", "", "./"]) {
    await assert.rejects(snapshotProject(root, [bad]), (e: unknown) => e instanceof SnapshotError && /must be a folder inside the project/.test(e.message), bad);
  }
  const snapshot = await snapshotProject(root, ["./data/"]);
  assert.ok(snapshot.readOnlyDirs.some((d) => d.path === "data"));
});
