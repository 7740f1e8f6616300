// Programs that flood or garble their output: the capture is capped, byte-exact, and never blocks the run.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Sandbox } from "../../server/env/sandbox/types";
import { assertNothingLeft, openIsolatedSandbox, python, uniqueMarker } from "./hostile-sandbox";

let sandbox: Sandbox;
before(async () => {
  sandbox = await openIsolatedSandbox();
});
after(async () => {
  await sandbox?.dispose();
});

test("endless output on both streams is capped at the limit and the run ends at the wall limit", async () => {
  const marker = uniqueMarker("flood");
  const source = "import sys\nline = 'y' * 4096 + '\\n'\nwhile True:\n    sys.stdout.write(line); sys.stderr.write(line)";
  const result = await sandbox.exec({ argv: python(source, marker), limits: { wallMs: 1_500, outputBytes: 64 * 1024 } });
  assert.equal(result.termination, "timeout");
  assert.equal(result.stdout.length, 64 * 1024);
  assert.equal(result.stderr.length, 64 * 1024);
  assert.equal(result.stdoutTruncated, true);
  assert.equal(result.stderrTruncated, true);
  assertNothingLeft(marker);
});

test("a large burst that exits is cut at the default 1 MiB cap and still reported as exited", async () => {
  const marker = uniqueMarker("burst");
  const result = await sandbox.exec({ argv: python("import sys\nsys.stdout.write('z' * (50 * 1024 * 1024))", marker), limits: { wallMs: 20_000 } });
  assert.equal(result.termination, "exited");
  assert.equal(result.exitCode, 0);
  assert.equal(result.stdout.length, 1024 * 1024);
  assert.equal(result.stdoutTruncated, true);
});

test("binary output (every byte value, invalid UTF-8, NULs) comes back byte for byte", async () => {
  const marker = uniqueMarker("binary");
  const result = await sandbox.exec({
    argv: python("import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4 + b'\\xff\\xfe\\x00\\xc3')", marker),
    limits: { wallMs: 10_000 },
  });
  const expected = Buffer.concat([Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256)), Buffer.from([0xff, 0xfe, 0x00, 0xc3])]);
  assert.deepEqual(result.stdout, expected);
  assert.equal(result.stdoutTruncated, false);
});

test("a program that closes its output early and keeps running is still stopped at the limit", async () => {
  const marker = uniqueMarker("closed");
  const result = await sandbox.exec({
    argv: python("import os, time\nos.close(1); os.close(2)\ntime.sleep(60)", marker),
    limits: { wallMs: 800 },
  });
  assert.equal(result.termination, "timeout");
  assertNothingLeft(marker);
});

test("a program that never reads a large stdin still finishes", async () => {
  const marker = uniqueMarker("stdin");
  const result = await sandbox.exec({ argv: python("print('ignored stdin')", marker), stdin: Buffer.alloc(8 * 1024 * 1024, 65), limits: { wallMs: 10_000 } });
  assert.equal(result.termination, "exited");
  assert.equal(result.stdout.toString(), "ignored stdin\n");
});
