// Per-run cgroups on the cgroup v1 host this project's CI uses (root, memory + pids hierarchies).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeGroupsOfDeadProcesses, RunCgroup, sandboxGroupName, setUpCgroupV1, tearDownCgroupV1 } from "../../../server/env/sandbox/cgroup-v1";

test("a run's cgroups carry its limits and are removed afterwards", async () => {
  const setup = await setUpCgroupV1(sandboxGroupName(process.pid, "a1b2c3d4"));
  assert.ok(setup.memory && setup.pids, JSON.stringify(setup.missing));
  try {
    const run = await RunCgroup.create(setup, "run-1", { memoryBytes: 64 * 1024 * 1024, maxProcesses: 7 });
    assert.equal(readFileSync(join(setup.memory.group, "run-1", "memory.limit_in_bytes"), "utf8").trim(), String(64 * 1024 * 1024));
    assert.equal(readFileSync(join(setup.pids.group, "run-1", "pids.max"), "utf8").trim(), "7");
    assert.deepEqual(await run.members(), []);
    await run.remove();
    assert.equal(existsSync(join(setup.memory.group, "run-1")), false);
    assert.equal(existsSync(join(setup.pids.group, "run-1")), false);
  } finally {
    await tearDownCgroupV1(setup);
  }
  assert.equal(existsSync(setup.memory.group), false);
});

test("killAll empties a run cgroup whose members keep forking", async () => {
  const setup = await setUpCgroupV1(sandboxGroupName(process.pid, "b2c3d4e5"));
  const run = await RunCgroup.create(setup, "run-1", { memoryBytes: 256 * 1024 * 1024, maxProcesses: 20 });
  try {
    const [memoryProcs, pidsProcs] = run.procsFiles;
    // The shell joins the cgroups itself before starting the forking loop, as the sandbox launcher does.
    const child = spawn("/bin/sh", ["-c", `echo $$ > ${memoryProcs}; echo $$ > ${pidsProcs}; while :; do sleep 5 & done`], { stdio: "ignore", detached: true });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok((await run.members()).length > 1);
    assert.equal(await run.killAll(), true);
    assert.deepEqual(await run.members(), []);
    await exited;
  } finally {
    await run.remove();
    await tearDownCgroupV1(setup);
  }
});

test("groups left by a process that no longer exists are swept, groups of live processes are kept", async () => {
  const setup = await setUpCgroupV1(sandboxGroupName(process.pid, "c3d4e5f6"));
  try {
    const parent = join(setup.pids!.group, "..");
    const deadPid = 2 ** 22 + 17; // above pid_max's usual ceiling: no such process
    const stale = join(parent, sandboxGroupName(deadPid, "deadbeef"));
    mkdirSync(join(stale, "run-3"), { recursive: true });
    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    writeFileSync(join(stale, "run-3", "cgroup.procs"), String(sleeper.pid));
    const exited = new Promise((resolve) => sleeper.once("exit", (_code, signal) => resolve(signal)));
    await removeGroupsOfDeadProcesses(parent);
    assert.equal(existsSync(stale), false);
    assert.equal(await exited, "SIGKILL");
    assert.equal(existsSync(setup.pids!.group), true);
  } finally {
    await tearDownCgroupV1(setup);
  }
});
