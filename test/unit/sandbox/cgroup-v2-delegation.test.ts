// The desktop case: an unprivileged user (here `nobody`) with a cgroup delegated to it. Root sets the
// delegation up the way systemd does for user@UID.service or a Delegate=yes unit (chown of the folder and of
// cgroup.procs, cgroup.subtree_control, cgroup.threads) on a real cgroup2 mount, moves the child in, and
// the child runs cgroup-v2.ts as that user. What the kernel then allows or refuses is the real thing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { sandboxGroupName } from "../../../server/env/sandbox/cgroup-v1";
import { mountCgroup2, removeCgroupTree } from "./cgroup2-mount";

const ROOT = resolve(__dirname, "..", "..", "..");
const CHILD = join(__dirname, "cgroup-v2-delegated-child.ts");
const NOBODY = 65534;
const skip = process.platform !== "linux" || process.getuid?.() !== 0 ? "needs Linux and root to mount cgroup2 and delegate a subtree" : false;

let mountPoint = "";
let testRoot = ""; // root-owned: the common ancestor of the delegated subtrees
const children = new Set<number>();

/** What systemd does when it delegates a cgroup to a user. */
function delegate(dir: string): void {
  mkdirSync(dir);
  for (const path of [dir, ...["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"].map((f) => join(dir, f))]) chownSync(path, NOBODY, NOBODY);
}

function controllersOf(dir: string, file = "cgroup.controllers"): string[] {
  return readFileSync(join(dir, file), "utf8").split(/\s+/).filter(Boolean);
}

before(() => {
  if (skip) return;
  const folder = mountCgroup2();
  mountPoint = folder; // set only once mounted: after() unmounts exactly then
  testRoot = join(mountPoint, `rlef-delegation-test-${process.pid}`);
  mkdirSync(testRoot);
  // Hand memory and pids down to the delegated subtrees where this kernel's hierarchy has them.
  for (const controller of controllersOf(testRoot).filter((c) => c === "memory" || c === "pids")) {
    writeFileSync(join(testRoot, "cgroup.subtree_control"), `+${controller}`);
  }
});

after(async () => {
  if (!mountPoint) return;
  for (const pid of children) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  const removeTree = removeCgroupTree;
  if (existsSync(testRoot)) await removeTree(testRoot);
  execFileSync("umount", [mountPoint]);
  rmdirSync(mountPoint);
});

/** Starts the child as `nobody`, moves it into `cgroup`, lets it go, and returns its JSON report. */
async function runChild(cgroup: string, args: string[]): Promise<Record<string, unknown> & { pid: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
    cwd: ROOT,
    uid: NOBODY,
    gid: NOBODY,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const pid = child.pid!;
  children.add(pid);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (t: string) => (stdout += t));
  child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t));
  const closed = new Promise((r) => child.on("close", r));
  writeFileSync(join(cgroup, "cgroup.procs"), String(pid));
  child.stdin.write("go\n");
  await closed;
  children.delete(pid);
  const line = stdout.trim().split("\n").pop() ?? "";
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`child gave no report: ${stdout} ${stderr}`);
  }
  assert.equal(report.error, undefined, String(report.error));
  return { ...report, pid };
}

function cgroupPath(dir: string): string {
  return dir.slice(mountPoint.length);
}

test("alone in its delegated cgroup, a user process moves itself to a leaf and runs each program in a sibling leaf", { skip }, async () => {
  const delegated = join(testRoot, "alone");
  delegate(delegated);
  const name = sandboxGroupName(4000001, "a1b2c3d4");
  const report = await runChild(delegated, ["alone", mountPoint, name]);
  assert.equal(report.startedIn, cgroupPath(delegated));
  assert.equal(report.movedTo, `${cgroupPath(delegated)}/rlef-node-${report.pid}`);
  assert.equal(report.helperMovedTo, report.movedTo, "our own child moved along with us");
  assert.match(String(report.via), /^own cgroup /);
  assert.equal(report.group, join(delegated, name));
  assert.equal(report.runChildCgroup, `${cgroupPath(delegated)}/${name}/run-1`, "the program ran in its own leaf");
  assert.ok(Number(report.membersWhileRunning) >= 3, "the forking program was inside the leaf");
  assert.equal(report.killed, true);
  assert.equal(report.signal, "SIGKILL");
  assert.equal(report.runRemoved, true);
  assert.equal(report.groupRemoved, true);
  const delegatedControllers = controllersOf(delegated);
  assert.equal(report.memory, delegatedControllers.includes("memory"));
  assert.equal(report.pids, delegatedControllers.includes("pids"));
  for (const controller of ["memory", "pids"].filter((c) => !delegatedControllers.includes(c))) {
    assert.ok(
      (report.missing as string[]).some((m) => m.startsWith(`${controller}-cgroup: cgroup v2 via own cgroup ${delegated}`) && m.includes("not available")),
      JSON.stringify(report.missing),
    );
  }
});

test("a delegated cgroup shared with another process is not taken over; every attempt is reported", { skip }, async () => {
  const delegated = join(testRoot, "crowded");
  delegate(delegated);
  const neighbour = spawn("sleep", ["60"], { stdio: "ignore" });
  children.add(neighbour.pid!);
  try {
    writeFileSync(join(delegated, "cgroup.procs"), String(neighbour.pid));
    const report = await runChild(delegated, ["crowded", mountPoint, sandboxGroupName(4000002, "b2c3d4e5")]);
    assert.equal(report.setup, null);
    const missing = report.missing as string[];
    assert.equal(missing.length, 2);
    for (const [i, controller] of ["memory", "pids"].entries()) {
      assert.ok(missing[i].startsWith(`${controller}-cgroup: cgroup v2: no delegated subtree: `), missing[i]);
      assert.match(missing[i], /not root/);
      assert.match(missing[i], new RegExp(`own cgroup ${delegated} also holds 1 process\\(es\\) that are not ours \\(e\\.g\\. pid ${neighbour.pid}\\)`));
      // this machine has no systemd user manager: systemd-run is missing or fails, and says why
      assert.match(missing[i], /systemd scope: (systemd-run is not installed|`systemd-run --user --scope .*` failed \(exit \d+\): \S)/);
    }
    // nothing was created in or moved out of the shared cgroup
    assert.deepEqual(readdirSync(delegated, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name), []);
    assert.equal(readFileSync(join(delegated, "cgroup.procs"), "utf8").split("\n").filter(Boolean).length, 1);
  } finally {
    neighbour.kill("SIGKILL");
    children.delete(neighbour.pid!);
  }
});

test("a subtree the user may write but not move its processes into (common ancestor not its own) fails the probe", { skip }, async () => {
  const home = join(testRoot, "home");
  const elsewhere = join(testRoot, "elsewhere");
  delegate(home);
  delegate(elsewhere);
  const report = await runChild(home, ["probe", mountPoint, "unused", elsewhere]);
  assert.equal(report.startedIn, cgroupPath(home));
  assert.match(String(report.probe), new RegExp(`^a child of this process cannot be moved into ${elsewhere} \\(EACCES: the common ancestor of our cgroup and it is not writable by us\\)$`));
  assert.equal(existsSync(join(elsewhere, "probe")), false, "the probe leaf is removed");
});
