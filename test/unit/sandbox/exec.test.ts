// Runs real programs through bubblewrap; these tests need a Linux machine where bwrap works.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox } from "../../../server/env/sandbox/index";
import type { Sandbox } from "../../../server/env/sandbox/types";

let sandbox: Sandbox;
before(async () => {
  sandbox = await createSandbox({ mode: "bwrap", workers: 2 });
});
after(async () => {
  await sandbox.dispose();
});

const limits = { wallMs: 10_000 };

test("a Python program reads stdin and writes stdout in the working directory", async () => {
  const result = await sandbox.exec({
    argv: ["python3", "-c", "import os,sys; print(os.getcwd(), sys.stdin.read().strip().upper())"],
    stdin: "hello",
    limits,
  });
  assert.equal(result.termination, "exited");
  assert.equal(result.exitCode, 0);
  assert.equal(result.stdout.toString(), "/work HELLO\n");
});

test("a Node program runs with the same binary as ours", async () => {
  const result = await sandbox.exec({ argv: ["node", "-e", "console.log(process.version)"], limits });
  assert.equal(result.exitCode, 0, result.stderr.toString());
  assert.equal(result.stdout.toString().trim(), process.version);
});

test("spec files are present and requested files come back", async () => {
  const result = await sandbox.exec({
    argv: ["python3", "main.py"],
    files: { "main.py": "open('out/report.xml','w').write(open('data/in.txt').read()*2)", "data/in.txt": "ab", "out/.keep": "" },
    collect: ["out/report.xml", "never-written.txt"],
    limits,
  });
  assert.equal(result.exitCode, 0, result.stderr.toString());
  assert.equal(result.collected["out/report.xml"].toString(), "abab");
  assert.ok(!("never-written.txt" in result.collected));
});

test("the exit status is reported as the program set it", async () => {
  const result = await sandbox.exec({ argv: ["python3", "-c", "import sys; sys.exit(3)"], limits });
  assert.equal(result.termination, "exited");
  assert.equal(result.exitCode, 3);
  assert.equal(result.signal, null);
});

test("a program killed by a signal is signaled, with the signal's name", async () => {
  const result = await sandbox.exec({ argv: ["python3", "-c", "import os,signal; os.kill(os.getpid(), signal.SIGSEGV)"], limits });
  assert.equal(result.termination, "signaled");
  assert.equal(result.signal, "SIGSEGV");
  assert.equal(result.exitCode, null);
});

test("the environment holds only the scrubbed variables plus the spec's", async () => {
  const result = await sandbox.exec({
    argv: ["python3", "-c", "import os,json; print(json.dumps(dict(os.environ)))"],
    env: { EXTRA: "yes" },
    limits,
  });
  const env = JSON.parse(result.stdout.toString()) as Record<string, string>;
  assert.deepEqual(Object.keys(env).sort(), ["EXTRA", "HOME", "LANG", "LOGNAME", "PATH", "PWD", "TMPDIR", "USER"]);
  assert.equal(env.PWD, "/work"); // set by bwrap --chdir
  assert.equal(env.HOME, "/work");
  assert.equal(env.TMPDIR, "/tmp");
  assert.equal(env.EXTRA, "yes");
  assert.equal(env.LANG, "C.UTF-8");
});

test("the run's rlimits are in force inside: CPU soft and hard, file size, no core dumps", async () => {
  const result = await sandbox.exec({
    argv: ["python3", "-c", "import resource as r\nfor k in ('CPU', 'FSIZE', 'CORE'): print(k, *r.getrlimit(getattr(r, 'RLIMIT_' + k)))"],
    limits: { wallMs: 10_000, cpuMs: 2_500, fileBytes: 8 * 1024 * 1024 },
  });
  assert.equal(result.stdout.toString(), `CPU 3 4\nFSIZE ${8 * 1024 * 1024} ${8 * 1024 * 1024}\nCORE 0 0\n`, result.stderr.toString());
});

test("a program past its wall-clock limit is killed and reported as a timeout", async () => {
  const result = await sandbox.exec({ argv: ["python3", "-c", "import time; time.sleep(30)"], limits: { wallMs: 300 } });
  assert.equal(result.termination, "timeout");
  assert.ok(result.wallMs < 5_000, `took ${result.wallMs} ms`);
});

test("a program past its memory limit is reported as memory, with the peak measured", async () => {
  const result = await sandbox.exec({
    argv: ["python3", "-c", "x = bytearray(300 * 1024 * 1024); print(len(x))"],
    limits: { wallMs: 10_000, memoryBytes: 64 * 1024 * 1024 },
  });
  assert.equal(result.termination, "memory");
  assert.equal(result.oomKilled, true);
  assert.ok((result.peakMemoryBytes ?? 0) >= 32 * 1024 * 1024, String(result.peakMemoryBytes));
});

test("a small program's peak memory is measured and no OOM is reported", async () => {
  const result = await sandbox.exec({ argv: ["python3", "-c", "pass"], limits });
  assert.equal(result.oomKilled, false);
  assert.ok((result.peakMemoryBytes ?? 0) > 0);
});

test("stdout past the cap is truncated to exactly the cap", async () => {
  const result = await sandbox.exec({
    argv: ["python3", "-c", "import sys; sys.stdout.write('x' * 100000)"],
    limits: { wallMs: 10_000, outputBytes: 1000 },
  });
  assert.equal(result.stdout.length, 1000);
  assert.equal(result.stdoutTruncated, true);
  assert.equal(result.stderrTruncated, false);
});

test("aborting a running program kills it and reports cancelled", async () => {
  const controller = new AbortController();
  const running = sandbox.exec({ argv: ["python3", "-c", "import time; time.sleep(30)"], limits: { wallMs: 60_000 }, signal: controller.signal });
  setTimeout(() => controller.abort(), 300);
  const result = await running;
  assert.equal(result.termination, "cancelled");
});

test("an already aborted signal never starts the program", async () => {
  const result = await sandbox.exec({ argv: ["python3", "-c", "print(1)"], limits, signal: AbortSignal.abort() });
  assert.equal(result.termination, "cancelled");
  assert.equal(result.stdout.length, 0);
});

test("an extra read-only mount is visible and cannot be written", async () => {
  const host = mkdtempSync(join(tmpdir(), "rlef-ro-"));
  try {
    writeFileSync(join(host, "lib.py"), "VALUE = 42\n");
    const result = await sandbox.exec({
      argv: ["python3", "-c", "import sys; sys.path.insert(0, '/deps'); import lib; print(lib.VALUE)\ntry:\n open('/deps/x','w')\nexcept OSError as e: print('refused')"],
      readOnly: [{ host, sandbox: "/deps" }],
      limits,
    });
    assert.equal(result.stdout.toString(), "42\nrefused\n", result.stderr.toString());
  } finally {
    rmSync(host, { recursive: true, force: true });
  }
});

test("a read-only mount inside the working directory sits over it, as a workspace's node_modules would", async () => {
  const host = mkdtempSync(join(tmpdir(), "rlef-nm-"));
  try {
    writeFileSync(join(host, "dep.js"), "module.exports = 7;\n");
    const result = await sandbox.exec({
      argv: ["node", "-e", "const fs = require('fs'); console.log(require('./node_modules/dep.js')); try { fs.writeFileSync('node_modules/x', '') } catch { console.log('refused') }"],
      readOnly: [{ host, sandbox: "/work/node_modules" }],
      limits,
    });
    assert.equal(result.stdout.toString(), "7\nrefused\n", result.stderr.toString());
  } finally {
    rmSync(host, { recursive: true, force: true });
  }
});

test("every result carries the isolation that was active", async () => {
  const result = await sandbox.exec({ argv: ["python3", "-c", "pass"], limits });
  assert.equal(result.isolation.mode, sandbox.isolation.mode);
  for (const p of ["namespaces", "no-network", "read-only-system", "dropped-capabilities", "scrubbed-env"]) assert.ok(result.isolation.enforced.includes(p), p);
});

test("a program that does not exist fails with a clear error", async () => {
  await assert.rejects(sandbox.exec({ argv: ["/nonexistent/bin/tool"], limits }), /does not exist/);
  await assert.rejects(sandbox.exec({ argv: ["no-such-interpreter-xyz"], limits }), /not found on PATH/);
});

const malformed: Array<[string, unknown, RegExp]> = [
  ["empty argv", { argv: [], limits }, /argv must be a non-empty array/],
  ["argv with a NUL byte", { argv: ["python3", "a\0b"], limits }, /NUL/],
  ["no limits", { argv: ["python3"] }, /limits are required/],
  ["negative wall limit", { argv: ["python3"], limits: { wallMs: -1 } }, /wallMs/],
  ["infinite memory limit", { argv: ["python3"], limits: { wallMs: 1000, memoryBytes: Infinity } }, /memoryBytes/],
  ["fractional process limit", { argv: ["python3"], limits: { wallMs: 1000, maxProcesses: 2.5 } }, /maxProcesses/],
  ["file outside the working directory", { argv: ["python3"], files: { "../x": "" }, limits }, /leaves the working directory/],
  ["absolute file path", { argv: ["python3"], files: { "/etc/x": "" }, limits }, /must be relative/],
  ["collect outside the working directory", { argv: ["python3", "-c", "pass"], collect: ["../../etc/passwd"], limits }, /leaves the working directory/],
  ["bad environment name", { argv: ["python3"], env: { "A=B": "x" }, limits }, /environment variable name/],
  ["relative read-only mount", { argv: ["python3"], readOnly: [{ host: "deps", sandbox: "/deps" }], limits }, /absolute path/],
  ["mount over /proc", { argv: ["python3"], readOnly: [{ host: "/usr", sandbox: "/proc" }], limits }, /may not replace/],
  ["missing mount source", { argv: ["python3"], readOnly: [{ host: "/nonexistent-xyz", sandbox: "/deps" }], limits }, /does not exist/],
];
for (const [name, spec, message] of malformed) {
  test(`a malformed spec is refused with a clear error: ${name}`, async () => {
    await assert.rejects(sandbox.exec(spec as never), message);
  });
}
