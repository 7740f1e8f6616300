import { test } from "node:test";
import assert from "node:assert/strict";
import { classify } from "../../../server/env/sandbox/execute";

const clean = { killedBy: null, oomKilled: false, exitCode: 0, signal: null } as const;

test("a normal exit, any status, is exited", () => {
  assert.equal(classify(clean), "exited");
  assert.equal(classify({ ...clean, exitCode: 3 }), "exited");
});

test("cancellation wins over everything else", () => {
  assert.equal(classify({ killedBy: "cancelled", oomKilled: true, exitCode: null, signal: "SIGKILL" }), "cancelled");
});

test("an OOM kill is memory even when the wall clock also ran out", () => {
  assert.equal(classify({ killedBy: "timeout", oomKilled: true, exitCode: null, signal: "SIGKILL" }), "memory");
  assert.equal(classify({ ...clean, oomKilled: true, exitCode: null, signal: "SIGKILL" }), "memory");
});

test("a program that survived an OOM kill of its child and exited 0 is exited", () => {
  assert.equal(classify({ ...clean, oomKilled: true }), "exited");
});

test("our wall-clock kill and the CPU rlimit are timeouts", () => {
  assert.equal(classify({ ...clean, killedBy: "timeout", exitCode: null, signal: "SIGKILL" }), "timeout");
  assert.equal(classify({ ...clean, exitCode: null, signal: "SIGXCPU" }), "timeout");
});

test("any other signal is signaled", () => {
  assert.equal(classify({ ...clean, exitCode: null, signal: "SIGSEGV" }), "signaled");
});
