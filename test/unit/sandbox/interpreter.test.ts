import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, realpathSync } from "node:fs";
import { installationMount, resolveInterpreter } from "../../../server/env/sandbox/interpreter";

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

test("python3 resolves to the real ELF binary, not a shell shim", async () => {
  const path = await resolveInterpreter("python3");
  assert.equal(path, realpathSync(path));
  assert.deepEqual(readFileSync(path).subarray(0, 4), ELF_MAGIC);
  assert.ok(!path.includes("/shims/"), path);
});

test("node resolves to this process's own binary", async () => {
  assert.equal(await resolveInterpreter("node"), realpathSync(process.execPath));
});

test("an interpreter that is not installed fails with its name in the message", async () => {
  await assert.rejects(resolveInterpreter("no-such-interpreter-xyz"), /no-such-interpreter-xyz.*not found on PATH/);
});

test("a relative path with folders is refused rather than guessed", async () => {
  await assert.rejects(resolveInterpreter("bin/python3"), /bare name or an absolute path/);
});

test("an empty interpreter name is refused", async () => {
  await assert.rejects(resolveInterpreter(""), /empty interpreter name/);
});

test("binaries under /usr need no mount of their own", () => {
  assert.equal(installationMount("/usr/bin/node", "/root"), null);
});

test("a pyenv binary mounts its version prefix, not the home folder", () => {
  assert.equal(installationMount("/root/.pyenv/versions/3.11.7/bin/python3.11", "/root"), "/root/.pyenv/versions/3.11.7");
});

test("a binary whose prefix would be the home folder mounts only the binary", () => {
  assert.equal(installationMount("/root/bin/tool", "/root"), "/root/bin/tool");
  assert.equal(installationMount("/opt/bin/tool", "/opt/user"), "/opt/bin/tool");
});
