// Per-run cgroups on a real cgroup2 file system, mounted by this test in a temp folder (as root). On the CI
// machine (a cgroup v1 host) the v1 hierarchies hold memory and pids, so this mount has neither: the
// hierarchy logic (group and leaves, joining before exec, cgroup.kill, removal, the sweep of stale groups)
// runs for real, and the limits are checked only where the kernel offers the controllers.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sandboxGroupName } from "../../../server/env/sandbox/cgroup-v1";
import { parseCgroup2Mounts, parseUnifiedCgroupPath, RunCgroupV2, setUpCgroupV2, tearDownCgroupV2 } from "../../../server/env/sandbox/cgroup-v2";
import { launcherArgv, probeFileBlockBytes } from "../../../server/env/sandbox/launcher";
import { mountCgroup2 } from "./cgroup2-mount";

const skip = process.platform !== "linux" || process.getuid?.() !== 0 ? "needs Linux and root to mount a cgroup2 file system" : false;
let mountPoint = "";

before(() => {
  if (skip) return;
  const folder = mountCgroup2();
  mountPoint = folder; // set only once mounted: after() unmounts exactly then
});

after(() => {
  if (!mountPoint) return;
  // Nothing of ours may stay in the (machine-wide) hierarchy: remove leftovers deepest first, then unmount.
  const removeTree = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeTree(join(dir, entry.name));
    rmdirSync(dir);
  };
  for (const name of readdirSync(mountPoint)) {
    if (name.startsWith(`rlef-sandbox-${process.pid}-`) || name.startsWith("rlef-sandbox-4194321-")) removeTree(join(mountPoint, name));
  }
  execFileSync("umount", [mountPoint]);
  rmdirSync(mountPoint);
});

function controllersAt(dir: string): string[] {
  return readFileSync(join(dir, "cgroup.controllers"), "utf8").split(/\s+/).filter(Boolean);
}

test("our cgroup2 mount shows up in mountinfo", { skip }, () => {
  const mounts = parseCgroup2Mounts(readFileSync("/proc/self/mountinfo", "utf8"));
  assert.ok(mounts.some((m) => m.mountPoint === mountPoint && m.root === "/"), JSON.stringify(mounts));
});

test("as root, the sandbox's group is made below the hierarchy root and removed on tear-down", { skip }, async () => {
  const name = sandboxGroupName(process.pid, "a1a1a1a1");
  const found = await setUpCgroupV2(name, { mountPoint, systemdScope: false });
  assert.ok(found.setup, JSON.stringify(found.missing));
  try {
    assert.equal(found.setup.group, join(mountPoint, name));
    assert.match(found.setup.via, /hierarchy root .* \(root user\)/);
    const available = controllersAt(mountPoint);
    assert.equal(found.setup.memory, available.includes("memory"));
    assert.equal(found.setup.pids, available.includes("pids"));
    // every controller that cannot be used is named with the reason, and none that can
    for (const controller of ["memory", "pids"]) {
      const entry = found.missing.find((m) => m.startsWith(`${controller}-cgroup: `));
      if (available.includes(controller)) assert.equal(entry, undefined);
      else assert.match(entry ?? "", new RegExp(`not available in ${mountPoint} \\(its cgroup.controllers: "${available.join(" ")}"\\)`));
    }
    // the group holds no process (the kernel's rule for a cgroup that hands controllers down); the probe leaf is gone
    assert.equal(readFileSync(join(found.setup.group, "cgroup.procs"), "utf8"), "");
    assert.deepEqual(readdirSync(found.setup.group, { withFileTypes: true }).filter((e) => e.isDirectory()), []);
  } finally {
    await tearDownCgroupV2(found.setup);
  }
  assert.equal(existsSync(join(mountPoint, name)), false);
});

test("a run's leaf carries the limits the kernel offers and is removed afterwards", { skip }, async () => {
  const found = await setUpCgroupV2(sandboxGroupName(process.pid, "b2b2b2b2"), { mountPoint, systemdScope: false });
  assert.ok(found.setup, JSON.stringify(found.missing));
  try {
    const run = await RunCgroupV2.create(found.setup, "run-1", { memoryBytes: 64 * 1024 * 1024, maxProcesses: 7 });
    assert.equal(run.dir, join(found.setup.group, "run-1"));
    assert.deepEqual(run.procsFiles, [join(found.setup.group, "run-1", "cgroup.procs")]);
    if (found.setup.memory) {
      assert.equal(readFileSync(join(run.dir, "memory.max"), "utf8").trim(), String(64 * 1024 * 1024));
      if (existsSync(join(run.dir, "memory.swap.max"))) assert.equal(readFileSync(join(run.dir, "memory.swap.max"), "utf8").trim(), "0");
    } else {
      assert.equal(existsSync(join(run.dir, "memory.max")), false);
    }
    if (found.setup.pids) assert.equal(readFileSync(join(run.dir, "pids.max"), "utf8").trim(), "7");
    assert.deepEqual(await run.members(), []);
    const usage = await run.usage();
    assert.equal(usage.oomKilled, false);
    if (!found.setup.memory) assert.equal(usage.peakMemoryBytes, undefined);
    await run.remove();
    assert.equal(existsSync(run.dir), false);
    await run.remove(); // removing twice is harmless (dispose after a failed run)
  } finally {
    await tearDownCgroupV2(found.setup);
  }
});

test("the launcher joins the run's leaf before it execs the program", { skip }, async () => {
  const found = await setUpCgroupV2(sandboxGroupName(process.pid, "c3c3c3c3"), { mountPoint, systemdScope: false });
  assert.ok(found.setup, JSON.stringify(found.missing));
  const run = await RunCgroupV2.create(found.setup, "run-7", { memoryBytes: 256 * 1024 * 1024, maxProcesses: 20 });
  try {
    const argv = launcherArgv({
      cgroupProcsFiles: run.procsFiles,
      keepStatusFd: false,
      cpuMs: 5_000,
      fileBytes: 1024 * 1024,
      fileBlockBytes: await probeFileBlockBytes(),
      command: ["/bin/cat", "/proc/self/cgroup"],
    });
    const output = execFileSync("/bin/sh", argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe", "pipe"] });
    // /proc/self/cgroup names the path from the hierarchy's root, which our mount shows whole
    assert.equal(parseUnifiedCgroupPath(output), `/${found.setup.group.slice(mountPoint.length + 1)}/run-7`);
  } finally {
    await run.killAll();
    await run.remove();
    await tearDownCgroupV2(found.setup);
  }
});

test("a launcher that cannot join its leaf stops before running the program", { skip }, async () => {
  const found = await setUpCgroupV2(sandboxGroupName(process.pid, "d4d4d4d4"), { mountPoint, systemdScope: false });
  assert.ok(found.setup, JSON.stringify(found.missing));
  try {
    const argv = launcherArgv({
      cgroupProcsFiles: [join(found.setup.group, "run-never-made", "cgroup.procs")],
      keepStatusFd: true,
      cpuMs: 5_000,
      fileBytes: 1024 * 1024,
      fileBlockBytes: 512,
      command: ["/bin/echo", "program ran"],
    });
    const child = spawn("/bin/sh", argv, { stdio: ["ignore", "pipe", "ignore", "pipe"] });
    let stdout = "";
    let status = "";
    child.stdout!.setEncoding("utf8").on("data", (t: string) => (stdout += t));
    (child.stdio[3] as NodeJS.ReadableStream).setEncoding("utf8");
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (t: string) => (status += t));
    const code = await new Promise((resolve) => child.on("close", resolve));
    assert.equal(code, 125);
    assert.equal(stdout, "");
    assert.match(status, /launcher-error: cannot join cgroup .*run-never-made/);
  } finally {
    await tearDownCgroupV2(found.setup);
  }
});

test("killAll empties a leaf whose members keep forking, with cgroup.kill", { skip }, async () => {
  const found = await setUpCgroupV2(sandboxGroupName(process.pid, "e5e5e5e5"), { mountPoint, systemdScope: false });
  assert.ok(found.setup, JSON.stringify(found.missing));
  const run = await RunCgroupV2.create(found.setup, "run-1", { memoryBytes: 256 * 1024 * 1024, maxProcesses: 20 });
  try {
    assert.ok(existsSync(join(run.dir, "cgroup.kill")), "this kernel has cgroup.kill (Linux 5.14+)");
    const child = spawn("/bin/sh", ["-c", `echo $$ > ${run.procsFiles[0]}; while :; do sleep 5 & done`], { stdio: "ignore", detached: true });
    const exited = new Promise((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
    for (let i = 0; i < 200 && (await run.members()).length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok((await run.members()).length >= 3, "the forking loop started inside the leaf");
    assert.equal(await run.killAll(), true);
    assert.deepEqual(await run.members(), []);
    assert.equal(await exited, "SIGKILL");
    assert.equal(readFileSync(join(run.dir, "cgroup.events"), "utf8").match(/^populated (\d)$/m)?.[1], "0");
  } finally {
    await run.remove();
    await tearDownCgroupV2(found.setup);
  }
});

test("groups left by a process that no longer exists are swept (members killed), live ones kept", { skip }, async () => {
  const deadPid = 4194321; // above the kernel's largest pid_max (2^22): no such process
  const stale = join(mountPoint, sandboxGroupName(deadPid, "deadbeef"));
  mkdirSync(join(stale, "run-3"), { recursive: true });
  const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
  const exited = new Promise((resolve) => sleeper.once("exit", (_code, signal) => resolve(signal)));
  writeFileSync(join(stale, "run-3", "cgroup.procs"), String(sleeper.pid));
  const found = await setUpCgroupV2(sandboxGroupName(process.pid, "f6f6f6f6"), { mountPoint, systemdScope: false });
  try {
    assert.ok(found.setup, JSON.stringify(found.missing));
    assert.equal(existsSync(stale), false);
    assert.equal(await exited, "SIGKILL");
    assert.equal(existsSync(found.setup.group), true);
  } finally {
    if (found.setup) await tearDownCgroupV2(found.setup);
  }
});
