// The hostile programs again, on the pre-started Python per worker: contained, classified, nothing left
// behind, and the worker still serves the next run.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import { createSandbox } from "../../server/env/sandbox/index";
import type { Sandbox } from "../../server/env/sandbox/types";
import { assertNothingLeft, processesInOurRunCgroups, uniqueMarker } from "./hostile-sandbox";

let sandbox: Sandbox;
before(async () => {
  sandbox = await createSandbox({ mode: "bwrap", workers: 1, forkServer: true });
  assert.equal(sandbox.isolation.mode, "bwrap+cgroup", JSON.stringify(sandbox.isolation));
});
after(async () => {
  await sandbox?.dispose();
});

function isOurDescendant(pid: number): boolean {
  for (let current = pid; current > 1; ) {
    let parent: number;
    try {
      parent = Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${current}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      return false;
    }
    if (parent === process.pid) return true;
    current = parent;
  }
  return false;
}

/** Our fork servers and everything forked from them (forked children keep the server's command line). */
function forkServerProcesses(): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        // bwrap's own command line names the script too; count the Python processes only
        return !argv[0].endsWith("bwrap") && argv.includes("/run/rlef-fork-server.py") && isOurDescendant(pid);
      } catch {
        return false;
      }
    });
}

async function assertServesAgain(): Promise<void> {
  const result = await sandbox.exec({ argv: ["python3", "-c", "print('served')"], limits: { wallMs: 15_000 } });
  assert.equal(result.stdout.toString(), "served\n", result.stderr.toString());
  assert.ok(result.isolation.enforced.includes("fork-server"));
  assert.ok(forkServerProcesses().length <= 1, `fork server processes: ${forkServerProcesses().join(" ")}`);
  assert.deepEqual(processesInOurRunCgroups(), []);
}

test("a fork bomb is capped and nothing of it survives the run", async () => {
  const source = "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass";
  const result = await sandbox.exec({ argv: ["python3", "-c", source], limits: { wallMs: 2_000, maxProcesses: 16 } });
  assert.equal(result.termination, "timeout");
  await assertServesAgain();
});

test("a memory bomb is OOM-killed and reported as memory", async () => {
  const result = await sandbox.exec({
    argv: ["python3", "-c", "b = []\nwhile True: b.append(bytearray(16 * 1024 * 1024))"],
    limits: { wallMs: 20_000, memoryBytes: 128 * 1024 * 1024 },
  });
  assert.equal(result.termination, "memory");
  await assertServesAgain();
});

test("an orphaned background program is killed with the run", async () => {
  const marker = uniqueMarker("fork-orphan");
  const source = `import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '${marker}'], start_new_session=True)\nprint('left it running')`;
  const result = await sandbox.exec({ argv: ["python3", "-c", source], limits: { wallMs: 15_000 } });
  assert.equal(result.stdout.toString(), "left it running\n");
  assertNothingLeft(marker);
  await assertServesAgain();
});

test("stopping the server with SIGSTOP costs only that run", async () => {
  const result = await sandbox.exec({ argv: ["python3", "-c", "import os, signal; os.kill(os.getppid(), signal.SIGSTOP)"], limits: { wallMs: 1_000 } });
  assert.notEqual(result.termination, "exited");
  await assertServesAgain();
});

test("the host's loopback is unreachable from a fork-server run", async () => {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const source = `import socket\ntry:\n    socket.create_connection(('127.0.0.1', ${port}), timeout=3); print('connected')\nexcept OSError: print('refused')`;
    const result = await sandbox.exec({ argv: ["python3", "-c", source], limits: { wallMs: 15_000 } });
    assert.equal(result.stdout.toString(), "refused\n");
    assert.equal(connections, 0);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("the server's stdin file and output pipes cannot be replaced by a run", async () => {
  const source = [
    "import os",
    "for path in ['/run/rlef-io/stdin', '/run/rlef-io/new', '/run/rlef-fork-server.py']:",
    "    try: open(path, 'w').write('x'); print('wrote', path)",
    "    except OSError: print('denied')",
  ].join("\n");
  const result = await sandbox.exec({ argv: ["python3", "-c", source], limits: { wallMs: 15_000 } });
  assert.equal(result.stdout.toString(), "denied\ndenied\ndenied\n", result.stderr.toString());
  await assertServesAgain();
});
