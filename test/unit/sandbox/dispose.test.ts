// dispose() stops everything: running programs are killed, queued ones never start, and later execs fail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createSandbox } from "../../../server/env/sandbox/index";

function processesWithMarker(marker: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test("dispose cancels running and queued runs and leaves no process", async () => {
  const sandbox = await createSandbox({ mode: "bwrap", workers: 1 });
  const marker = `rlef-dispose-${process.pid}-${Date.now()}`;
  const spec = { argv: ["python3", "-c", `import time\ntime.sleep(60)\n# ${marker}`], limits: { wallMs: 60_000 } };
  const running = sandbox.exec(spec);
  const queued = sandbox.exec(spec);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.ok(processesWithMarker(marker).length > 0, "the first run should have started");
  await sandbox.dispose();
  assert.equal((await running).termination, "cancelled");
  assert.equal((await queued).termination, "cancelled");
  assert.deepEqual(processesWithMarker(marker), []);
  await assert.rejects(sandbox.exec(spec), /exec after dispose/);
});

test("a worker count that is not a positive integer is refused", async () => {
  await assert.rejects(createSandbox({ workers: 0 }), /positive integer/);
});

test("the sandbox runs no more programs at once than it has workers", async () => {
  const sandbox = await createSandbox({ mode: "bwrap", workers: 2 });
  try {
    // Each run records its start and end on the host clock; with 2 workers, no 3 intervals overlap.
    const runs = await Promise.all(
      Array.from({ length: 5 }, () =>
        sandbox.exec({ argv: ["python3", "-c", "import time\nprint(time.time())\ntime.sleep(0.3)\nprint(time.time())"], limits: { wallMs: 20_000 } }),
      ),
    );
    const intervals = runs.map((r) => r.stdout.toString().trim().split("\n").map(Number));
    for (const [start] of intervals) {
      const overlapping = intervals.filter(([s, e]) => s <= start && start < e).length;
      assert.ok(overlapping <= 2, `${overlapping} runs overlapped at ${start}`);
    }
  } finally {
    await sandbox.dispose();
  }
});
