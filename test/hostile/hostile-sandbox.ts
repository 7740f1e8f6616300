// Shared by the hostile suite: a sandbox that must be fully isolated (the suite fails, never skips, when
// it is not), and the checks that nothing of a run is left behind.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createSandbox } from "../../server/env/sandbox/index";
import type { Sandbox } from "../../server/env/sandbox/types";

export async function openIsolatedSandbox(): Promise<Sandbox> {
  assert.equal(process.platform, "linux", "the hostile suite needs Linux with bubblewrap and cgroups");
  assert.equal(process.getuid?.(), 0, "the hostile suite runs as root, as CI does (root is the hard case)");
  // RLEF_HOSTILE_FORK_SERVER=1 runs the same hostile programs on the pre-started Python per worker, the
  // setting `rlef verify` and the environment service use where bubblewrap and cgroups are active.
  const forkServer = process.env.RLEF_HOSTILE_FORK_SERVER === "1";
  const sandbox = await createSandbox({ mode: "bwrap", workers: 2, forkServer });
  assert.equal(sandbox.isolation.mode, "bwrap+cgroup", `isolation not fully active: ${JSON.stringify(sandbox.isolation)}`);
  for (const protection of ["namespaces", "no-network", "read-only-system", "dropped-capabilities", "memory-cgroup", "pids-cgroup", "rlimits"]) {
    assert.ok(sandbox.isolation.enforced.includes(protection), `${protection} is not enforced`);
  }
  return sandbox;
}

/** A unique string to put in a hostile program's command line, so that its processes can be found. */
export function uniqueMarker(name: string): string {
  return `rlef-hostile-${name}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Host pids whose command line contains `marker` (every process a run forks inherits its argv). */
export function processesWithMarker(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(marker)) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Processes still inside any run cgroup this test process created (should be none between runs). */
export function processesInOurRunCgroups(): number[] {
  const ownLine = readFileSync("/proc/self/cgroup", "utf8").split("\n").find((l) => l.split(":")[1]?.split(",").includes("pids"));
  const own = ownLine?.split(":")[2] ?? "/";
  const parent = join("/sys/fs/cgroup/pids", own);
  const pids: number[] = [];
  for (const group of readdirSync(parent)) {
    if (!group.startsWith(`rlef-sandbox-${process.pid}-`)) continue;
    const groupDir = join(parent, group);
    for (const run of readdirSync(groupDir, { withFileTypes: true })) {
      if (!run.isDirectory()) continue;
      const procs = join(groupDir, run.name, "cgroup.procs");
      if (existsSync(procs)) pids.push(...readFileSync(procs, "utf8").split("\n").filter(Boolean).map(Number));
    }
  }
  return pids;
}

export function assertNothingLeft(marker: string): void {
  assert.deepEqual(processesWithMarker(marker), [], "processes of the run are still alive on the host");
  assert.deepEqual(processesInOurRunCgroups(), [], "a run cgroup still holds processes");
}

/** Python source with the marker as a trailing comment, so the marker lands in argv. */
export function python(source: string, marker: string): string[] {
  return ["python3", "-c", `${source}\n# ${marker}`];
}
