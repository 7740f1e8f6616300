import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkRelativePath, collectFiles, createWorkdir, removeWorkdir, writeSpecFiles } from "../../../server/env/sandbox/workdir";

test("relative paths inside the working directory are accepted and normalised", () => {
  assert.equal(checkRelativePath("a/./b.txt", "files"), "a/b.txt");
  assert.equal(checkRelativePath("report.xml", "collect"), "report.xml");
});

for (const bad of ["", "/etc/passwd", "../x", "a/../../x", "..", ".", "a\0b", "C:\\x"]) {
  test(`path ${JSON.stringify(bad)} is refused with a message naming it`, () => {
    assert.throws(() => checkRelativePath(bad, "files"), /files: /);
  });
}

test("spec files are written, nested folders included", async () => {
  const dir = await createWorkdir();
  try {
    await writeSpecFiles(dir, { "main.py": "print(1)", "pkg/data.bin": Buffer.from([0, 255]) });
    const collected = await collectFiles(dir, ["main.py", "pkg/data.bin", "missing.txt"]);
    assert.equal(collected["main.py"].toString(), "print(1)");
    assert.deepEqual([...collected["pkg/data.bin"]], [0, 255]);
    assert.ok(!("missing.txt" in collected));
  } finally {
    await removeWorkdir(dir);
  }
});

test("writing a spec file outside the working directory is refused", async () => {
  const dir = await createWorkdir();
  try {
    await assert.rejects(writeSpecFiles(dir, { "../escape.txt": "x" }), /leaves the working directory/);
  } finally {
    await removeWorkdir(dir);
  }
});

test("collect never follows a symlink the program left, at the end or in the middle", async () => {
  const outside = mkdtempSync(join(tmpdir(), "rlef-outside-"));
  const dir = await createWorkdir();
  try {
    writeFileSync(join(outside, "secret"), "host secret");
    symlinkSync(join(outside, "secret"), join(dir, "report.xml"));
    symlinkSync(outside, join(dir, "linked"));
    const collected = await collectFiles(dir, ["report.xml", "linked/secret"]);
    assert.deepEqual(collected, {});
  } finally {
    await removeWorkdir(dir);
    rmSync(outside, { recursive: true, force: true });
  }
});

test("a working directory the program made unreadable is still removed", async () => {
  const dir = await createWorkdir();
  mkdirSync(join(dir, "locked"));
  writeFileSync(join(dir, "locked", "f"), "x");
  chmodSync(join(dir, "locked"), 0o000);
  await removeWorkdir(dir);
  assert.equal(existsSync(dir), false);
});
