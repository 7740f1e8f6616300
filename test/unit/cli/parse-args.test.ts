import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

// Through the real CLI entry point, as users call it.
const ROOT = resolve(__dirname, "..", "..", "..");
const rlef = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "server", "cli", "main.ts"), ...args], { encoding: "utf8" });

test("--help prints the command's usage on stdout and exits 0", () => {
  const r = rlef("eval", "--help");
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^usage: rlef eval <set>/);
});

test("an unknown flag is a usage error on stderr with exit 2", () => {
  const r = rlef("solve", "--bogus", "x.md");
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^rlef solve: Unknown option '--bogus'/);
  assert.match(r.stderr, /usage: rlef solve/);
});

test("an unknown command lists the commands", () => {
  const r = rlef("frobnicate");
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  assert.match(r.stderr, /solve .*\n.*eval/s);
});

test("a problem file without examples is a clear error and nothing runs", () => {
  const r = rlef("solve", join(ROOT, "README.md"));
  assert.equal(r.status, 2);
  assert.match(r.stderr, /README\.md: no examples found/);
});
