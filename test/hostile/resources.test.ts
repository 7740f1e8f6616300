// Programs that try to exhaust the machine: processes, memory, CPU, disk. Each must be contained,
// classified, and leave nothing behind.
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

test("a Python fork bomb is capped by the pids cgroup and killed at the wall limit", async () => {
  const marker = uniqueMarker("forkbomb");
  const source = [
    "import os, time",
    "original = os.getpid()",
    "children = 0",
    "deadline = time.time() + 1.5",
    "while time.time() < deadline:",
    "    try:",
    "        if os.fork() == 0: children = 0",
    "        else: children += 1",
    "    except OSError: pass",
    "if os.getpid() == original: print(sum(p.isdigit() for p in os.listdir('/proc')), flush=True)",
    "time.sleep(30)",
  ].join("\n");
  const result = await sandbox.exec({ argv: python(source, marker), limits: { wallMs: 3_000, maxProcesses: 16 } });
  assert.equal(result.termination, "timeout");
  // Visible in the pid namespace: bwrap's init plus at most the 16 allowed (plus, on the fork server, the
  // server itself, which is outside the run's cgroup); the bomb did reach the cap.
  const server = result.isolation.enforced.includes("fork-server") ? 1 : 0;
  const visible = Number(result.stdout.toString().trim());
  assert.ok(visible >= 12 + server && visible <= 17 + server, `processes seen inside: ${result.stdout.toString()}`);
  assertNothingLeft(marker);
});

test("a shell fork bomb is contained too", async () => {
  const marker = uniqueMarker("shellbomb");
  const result = await sandbox.exec({
    argv: ["/bin/sh", "-c", `bomb() { bomb | bomb & }; bomb; sleep 30 # ${marker}`],
    limits: { wallMs: 2_000, maxProcesses: 16 },
  });
  assert.ok(["timeout", "exited"].includes(result.termination), result.termination);
  assertNothingLeft(marker);
});

test("a memory bomb is OOM-killed at the memory limit and reported as memory", async () => {
  const marker = uniqueMarker("membomb");
  const result = await sandbox.exec({
    argv: python("blocks = []\nwhile True: blocks.append(bytearray(16 * 1024 * 1024))", marker),
    limits: { wallMs: 20_000, memoryBytes: 128 * 1024 * 1024 },
  });
  assert.equal(result.termination, "memory");
  assert.equal(result.oomKilled, true);
  assert.ok((result.peakMemoryBytes ?? 0) <= 129 * 1024 * 1024, String(result.peakMemoryBytes));
  assertNothingLeft(marker);
});

test("filling the private /tmp counts against the memory limit", async () => {
  const marker = uniqueMarker("tmpbomb");
  const source = "chunk = b'x' * (8 * 1024 * 1024)\nwith open('/tmp/fill', 'wb') as f:\n    while True: f.write(chunk); f.flush()";
  const result = await sandbox.exec({ argv: python(source, marker), limits: { wallMs: 20_000, memoryBytes: 96 * 1024 * 1024 } });
  assert.notEqual(result.termination, "timeout", "the tmpfs writes were never stopped");
  assert.ok(result.termination === "memory" || /No space|MemoryError|Errno/.test(result.stderr.toString()), result.termination);
  assert.notEqual(result.exitCode, 0);
  assertNothingLeft(marker);
});

test("a file larger than the file-size limit cannot be written", async () => {
  const marker = uniqueMarker("bigfile");
  const source = [
    "try:",
    "    with open('big', 'wb') as f: f.write(b'x' * (32 * 1024 * 1024))",
    "    print('wrote')",
    "except OSError as e: print('refused', e.errno)",
  ].join("\n");
  const result = await sandbox.exec({ argv: python(source, marker), limits: { wallMs: 10_000, fileBytes: 4 * 1024 * 1024 } });
  assert.equal(result.stdout.toString(), "refused 27\n", result.stderr.toString()); // 27 = EFBIG
  assertNothingLeft(marker);
});

test("a busy loop that ignores SIGTERM is killed at the wall limit", async () => {
  const marker = uniqueMarker("noterm");
  const result = await sandbox.exec({
    argv: python("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: pass", marker),
    limits: { wallMs: 1_000 },
  });
  assert.equal(result.termination, "timeout");
  assertNothingLeft(marker);
});

test("the CPU-time limit stops a busy loop even when the wall limit is generous", async () => {
  const marker = uniqueMarker("cpu");
  const result = await sandbox.exec({ argv: python("while True: pass", marker), limits: { wallMs: 30_000, cpuMs: 1_000 } });
  assert.equal(result.termination, "timeout");
  assert.ok(result.signal === "SIGXCPU" || result.signal === "SIGKILL", String(result.signal));
  assertNothingLeft(marker);
});

test("sleeping past the limit is a timeout", async () => {
  const marker = uniqueMarker("sleep");
  const result = await sandbox.exec({ argv: python("import time\ntime.sleep(60)", marker), limits: { wallMs: 500 } });
  assert.equal(result.termination, "timeout");
  assertNothingLeft(marker);
});
