// Per-run cgroups on a cgroup v2 (unified) host: one leaf per run, with memory.max, memory.swap.max = 0
// and pids.max where those controllers are delegated to us, joined by the launcher before it execs.
//
// Where the runs' cgroups can live (the first that works, each failure kept as the reason):
//   1. below the parent of our own leaf, when an earlier sandbox of this process already made that leaf;
//   2. as root, directly below the hierarchy root (its own processes are exempt from the no-internal-
//      processes rule);
//   3. in our own cgroup when it is ours alone (a systemd service or `systemd-run --user --scope
//      -p Delegate=yes` scope around this process, a container whose only process is us): we move our
//      processes into a leaf `rlef-node-<pid>` so the cgroup can hand controllers to its children;
//   4. a transient systemd scope with Delegate=yes (the user manager when not root) holding a keeper
//      process, which exits when our stdin pipe to it closes, i.e. with us.
// Below that base: `rlef-sandbox-<pid>-<hex>` (no processes, controllers enabled) and in it `run-N` leaves.
// The kernel lets a process move only where its writer may write the cgroup.procs of the common ancestor
// of source and destination, so a probe moves a real process into the group before we trust it.
import { spawn } from "node:child_process";
import { accessSync, constants as fsConstants, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { removeGroupDir, removeGroupsOfDeadProcesses, type RunCgroupLimits, type RunCgroupUsage } from "./cgroup-v1";
import { findOnPath } from "./interpreter";
import { killUntilEmpty, sigkillEach } from "./kill-members";

/** The controllers a run needs, in the order the report names them. */
const WANTED = ["memory", "pids"] as const;
type Wanted = (typeof WANTED)[number];

export interface CgroupV2Setup {
  version: 2;
  /** The folder holding this sandbox's `run-N` leaves; it has no processes of its own. */
  group: string;
  /** memory.max / memory.swap.max can be set on the leaves. */
  memory: boolean;
  /** pids.max can be set on the leaves. */
  pids: boolean;
  /** How the delegated subtree was found, e.g. "own cgroup /user.slice/.../app.scope". */
  via: string;
  /** The systemd scope's keeper process, when step 4 made the subtree. */
  keeper: ScopeKeeper | null;
}

export interface CgroupV2Found {
  setup: CgroupV2Setup | null;
  /** IsolationReport.missing entries for the controllers that cannot be used, and why. */
  missing: string[];
}

export interface CgroupV2Options {
  /** The cgroup2 mount point; default: found in /proc/self/mountinfo. */
  mountPoint?: string;
  /** Ask systemd for a delegated scope when nothing else works (step 4). Default true. */
  systemdScope?: boolean;
}

// ---- parsing /proc (pure) ----

/** Our path in the unified hierarchy from /proc/<pid>/cgroup text ("0::/a/b"), or null when there is none. */
export function parseUnifiedCgroupPath(text: string): string | null {
  for (const line of text.split("\n")) {
    if (line.startsWith("0::")) {
      const path = line.slice(3).trim();
      if (!path.startsWith("/")) throw new Error(`cgroup: malformed unified entry in /proc/self/cgroup: ${JSON.stringify(line)}`);
      return path;
    }
  }
  return null;
}

export interface Cgroup2Mount {
  mountPoint: string;
  /** The cgroup this mount shows as its top ("/" unless mounted from a subtree). */
  root: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The cgroup2 mounts of /proc/self/mountinfo, the canonical places first (/sys/fs/cgroup on a unified
 * host, /sys/fs/cgroup/unified on a hybrid one). Format: `id parent maj:min root mountpoint opts [optional...] - fstype source superopts`.
 */
export function parseCgroup2Mounts(mountinfo: string): Cgroup2Mount[] {
  const mounts: Cgroup2Mount[] = [];
  for (const [index, line] of mountinfo.split("\n").entries()) {
    if (!line.trim()) continue;
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6 || fields.length < dash + 2) throw new Error(`cgroup: malformed /proc/self/mountinfo line ${index + 1}: ${JSON.stringify(line)}`);
    if (fields[dash + 1] !== "cgroup2") continue;
    mounts.push({ root: unescapeMountField(fields[3]), mountPoint: unescapeMountField(fields[4]) });
  }
  const rank = (m: Cgroup2Mount) => ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].indexOf(m.mountPoint) >>> 0;
  return mounts.sort((a, b) => rank(a) - rank(b));
}

/**
 * The folder of cgroup `path` (as /proc/self/cgroup names it) under `mount`, or null when the mount does
 * not show it (mounted from another subtree, or a path outside our cgroup namespace, "/../x").
 */
export function cgroupDirIn(mount: Cgroup2Mount, path: string): string | null {
  if (path.split("/").includes("..")) return null;
  const root = mount.root.replace(/\/+$/, "");
  if (root !== "" && path !== root && !path.startsWith(`${root}/`)) return null;
  return resolve(mount.mountPoint, `.${path.slice(root.length)}`);
}

/** Whitespace-separated names in a cgroup file such as cgroup.controllers or cgroup.subtree_control. */
export function parseNameList(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

function readNames(dir: string, file: string): string[] {
  return parseNameList(readFileSync(join(dir, file), "utf8"));
}

function readPids(dir: string): number[] {
  return parseNameList(readFileSync(join(dir, "cgroup.procs"), "utf8")).map(Number);
}

export function isCgroupV2Host(): boolean {
  try {
    return parseCgroup2Mounts(readFileSync("/proc/self/mountinfo", "utf8")).length > 0;
  } catch {
    return false;
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

/** Moves a process (all its threads) into cgroup `dir`; one that exited meanwhile is no error. */
function moveProcess(pid: number, dir: string): void {
  try {
    writeFileSync(join(dir, "cgroup.procs"), String(pid));
  } catch (error) {
    if (errorCode(error) !== "ESRCH") throw error;
  }
}

// ---- finding a delegated subtree ----

interface DelegatedBase {
  dir: string;
  via: string;
  keeper: ScopeKeeper | null;
}

/** The leaf this process moves itself into (step 3): the cgroup it leaves may then enable controllers. */
export function ownLeafName(pid: number): string {
  return `rlef-node-${pid}`;
}

function writableCgroup(dir: string): string | null {
  for (const file of ["cgroup.procs", "cgroup.subtree_control"]) {
    try {
      accessSync(join(dir, file), fsConstants.W_OK);
    } catch (error) {
      return `${join(dir, file)} is not writable (${errorCode(error)})`;
    }
  }
  try {
    accessSync(dir, fsConstants.W_OK);
  } catch (error) {
    return `${dir} is not writable (${errorCode(error)})`;
  }
  return null;
}

function parentPid(pid: number): number | undefined {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined; // exited meanwhile
  }
}

/** Our pid and our descendants' among `pids`: processes we may move along with us. */
function ourProcessTree(pids: number[]): Set<number> {
  const ours = new Set<number>();
  for (const pid of pids) {
    const seen = new Set<number>();
    for (let p: number | undefined = pid; p !== undefined && p > 1 && !seen.has(p); p = parentPid(p)) {
      seen.add(p);
      if (p === process.pid) {
        ours.add(pid);
        break;
      }
    }
  }
  return ours;
}

function earlierOwnLeaf(ownDir: string): DelegatedBase | string {
  if (basename(ownDir) === ownLeafName(process.pid)) return { dir: dirname(ownDir), via: `own cgroup ${dirname(ownDir)} (set up earlier)`, keeper: null };
  return "this process has not moved itself into a leaf before";
}

function hierarchyRootAsRoot(mountPoint: string): DelegatedBase | string {
  if (process.geteuid?.() !== 0) return "not root, so the hierarchy root is not ours";
  // Only the real root cgroup lacks cgroup.type; a cgroup namespace's top (a container) has one and obeys
  // the no-internal-processes rule like any other cgroup.
  if (existsSync(join(mountPoint, "cgroup.type"))) return `${mountPoint} is a cgroup namespace's top, not the hierarchy root`;
  const unwritable = writableCgroup(mountPoint);
  return unwritable ?? { dir: mountPoint, via: `hierarchy root ${mountPoint} (root user)`, keeper: null };
}

function ownCgroupWhenAlone(ownDir: string): DelegatedBase | string {
  const unwritable = writableCgroup(ownDir);
  if (unwritable) return `own cgroup: ${unwritable}`;
  const members = readPids(ownDir);
  const ours = ourProcessTree(members);
  const others = members.filter((pid) => !ours.has(pid));
  if (others.length > 0) {
    return `own cgroup ${ownDir} also holds ${others.length} process(es) that are not ours (e.g. pid ${others[0]}), so it cannot delegate controllers`;
  }
  const leaf = join(ownDir, ownLeafName(process.pid));
  try {
    if (!existsSync(leaf)) mkdirSync(leaf);
    // ourselves first, so that children forked meanwhile are born in the leaf
    for (const pid of [process.pid, ...members.filter((p) => p !== process.pid)]) moveProcess(pid, leaf);
  } catch (error) {
    return `own cgroup ${ownDir}: cannot move this process into ${leaf} (${errorCode(error)})`;
  }
  return { dir: ownDir, via: `own cgroup ${ownDir} (this process moved to ${ownLeafName(process.pid)})`, keeper: null };
}

/** Enables each wanted controller in `dir`'s subtree_control; returns why each that could not be is missing. */
function enableControllers(dir: string): Map<Wanted, string> {
  const problems = new Map<Wanted, string>();
  const available = readNames(dir, "cgroup.controllers");
  const enabled = readNames(dir, "cgroup.subtree_control");
  for (const controller of WANTED) {
    if (enabled.includes(controller)) continue;
    if (!available.includes(controller)) {
      // on a hybrid host the v1 hierarchies hold memory and pids, and the v2 one never sees them
      problems.set(controller, `not available in ${dir} (its cgroup.controllers: "${available.join(" ")}")`);
      continue;
    }
    try {
      writeFileSync(join(dir, "cgroup.subtree_control"), `+${controller}`);
    } catch (error) {
      const code = errorCode(error);
      const why = code === "EBUSY" ? "the cgroup holds processes (no-internal-processes rule)" : code;
      problems.set(controller, `cannot enable it in ${join(dir, "cgroup.subtree_control")}: ${why}`);
    }
  }
  return problems;
}

/**
 * Moves a child of ours into a leaf of `group`, as the launcher will move itself (same credentials, same
 * source cgroup), so a subtree we may create folders in but not move our children into (the common
 * ancestor's cgroup.procs is not ours) is caught now. Node does the write to learn the kernel's errno.
 */
export async function probeMigration(group: string): Promise<string | null> {
  const leaf = join(group, "probe");
  await mkdir(leaf);
  const child = spawn("/bin/sh", ["-c", "read _"], { stdio: ["pipe", "ignore", "ignore"] });
  try {
    const spawned = await new Promise<Error | null>((resolve) => {
      child.once("spawn", () => resolve(null));
      child.once("error", resolve);
    });
    if (spawned) return `cannot start /bin/sh: ${spawned.message}`;
    try {
      writeFileSync(join(leaf, "cgroup.procs"), String(child.pid));
      return null;
    } catch (error) {
      return `a child of this process cannot be moved into ${group} (${errorCode(error)}: the common ancestor of our cgroup and it is not writable by us)`;
    }
  } finally {
    const exited = new Promise((resolve) => child.once("close", resolve));
    child.stdin.end();
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) await exited;
    await removeGroupDir(leaf);
  }
}

/** Creates this sandbox's group for its run leaves, using the first base that works (see the top of this file). */
export async function setUpCgroupV2(name: string, options: CgroupV2Options = {}): Promise<CgroupV2Found> {
  const reasonFor = (why: string) => WANTED.map((c) => `${c}-cgroup: cgroup v2: ${why}`);
  let mount: Cgroup2Mount | undefined;
  if (options.mountPoint) mount = { mountPoint: options.mountPoint, root: "/" };
  else mount = parseCgroup2Mounts(await readFile("/proc/self/mountinfo", "utf8"))[0];
  if (!mount) return { setup: null, missing: reasonFor("no cgroup2 file system is mounted") };
  const ownPath = parseUnifiedCgroupPath(await readFile("/proc/self/cgroup", "utf8"));
  const ownDir = ownPath === null ? null : cgroupDirIn(mount, ownPath);
  if (ownDir === null) return { setup: null, missing: reasonFor(`our cgroup ${String(ownPath)} is not visible under ${mount.mountPoint}`) };

  const attempts: string[] = [];
  let base: DelegatedBase | null = null;
  const steps: Array<() => DelegatedBase | string | Promise<DelegatedBase | string>> = [
    () => earlierOwnLeaf(ownDir),
    () => hierarchyRootAsRoot(mount.mountPoint),
    () => ownCgroupWhenAlone(ownDir),
    () => (options.systemdScope === false ? "systemd scope not tried (disabled)" : delegatedScope(name, mount)),
  ];
  for (const step of steps) {
    // a step that fails in an unforeseen way (a file the kernel does not offer, a permission) is one more reason
    const outcome = await Promise.resolve()
      .then(step)
      .catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    if (typeof outcome !== "string") {
      base = outcome;
      break;
    }
    attempts.push(outcome);
  }
  if (!base) return { setup: null, missing: reasonFor(`no delegated subtree: ${attempts.slice(1).join("; ")}`) };

  await removeGroupsOfDeadProcesses(base.dir);
  removeLeavesOfDeadProcesses(base.dir);
  const group = join(base.dir, name);
  try {
    const problems = enableControllers(base.dir);
    mkdirSync(group);
    for (const [controller, why] of enableControllers(group)) if (!problems.has(controller)) problems.set(controller, why);
    const migration = await probeMigration(group);
    if (migration) throw new Error(migration);
    const setup: CgroupV2Setup = {
      version: 2,
      group,
      memory: !problems.has("memory"),
      pids: !problems.has("pids"),
      via: base.via,
      keeper: base.keeper,
    };
    return { setup, missing: [...problems].map(([controller, why]) => `${controller}-cgroup: cgroup v2 via ${base.via}: ${why}`) };
  } catch (error) {
    await removeGroupDir(group).catch(() => undefined);
    await base.keeper?.stop();
    return { setup: null, missing: reasonFor(`${base.via}: ${error instanceof Error ? error.message : String(error)}`) };
  }
}

export async function tearDownCgroupV2(setup: CgroupV2Setup): Promise<void> {
  try {
    await removeGroupDir(setup.group);
  } finally {
    await setup.keeper?.stop();
  }
}

// ---- step 4: a delegated systemd scope ----

export interface ScopeKeeper {
  /** The scope's cgroup folder (our base). */
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

const KEEPER_START_MS = 15_000;

async function delegatedScope(name: string, mount: Cgroup2Mount): Promise<DelegatedBase | string> {
  const keeper = await startScopeKeeper(name, mount);
  if (typeof keeper === "string") return `systemd scope: ${keeper}`;
  return { dir: keeper.dir, via: `systemd scope ${name}.scope (Delegate=yes)`, keeper };
}

async function startScopeKeeper(name: string, mount: Cgroup2Mount): Promise<ScopeKeeper | string> {
  const systemdRun = await findOnPath("systemd-run");
  if (!systemdRun) return "systemd-run is not installed";
  const manager = process.geteuid?.() === 0 ? [] : ["--user"];
  // The keeper is a shell that waits on its stdin: it ends when we close the pipe or die, and the scope
  // (an empty scope is stopped by systemd) goes with it.
  const args = [...manager, "--scope", "--quiet", "--collect", "-p", "Delegate=yes", `--unit=${name}`, "--", "/bin/sh", "-c", "echo ready $$; read _"];
  const child = spawn(systemdRun, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  let keeperPid = 0;
  let stdout = "";
  const started = await new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve(`systemd-run did not start the scope within ${KEEPER_START_MS} ms`), KEEPER_START_MS);
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
      const ready = /^ready (\d+)$/m.exec(stdout);
      if (ready) {
        // the shell's own pid: systemd-run execs it in scope mode, but may also stay as its parent
        keeperPid = Number(ready[1]);
        clearTimeout(timer);
        resolve(null);
      }
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve(`cannot run systemd-run: ${error.message}`);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(`\`systemd-run ${args.slice(0, 7).join(" ")} ...\` failed (exit ${String(code)}): ${stderr.trim().split("\n").join(" ")}`);
    });
  });
  const stop = async () => {
    child.stdin.end();
    const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once("exit", () => r()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
    await exited;
    clearTimeout(timer);
  };
  if (started !== null) {
    await stop();
    return started;
  }
  const path = parseUnifiedCgroupPath(readFileSync(`/proc/${keeperPid}/cgroup`, "utf8"));
  const dir = path === null ? null : cgroupDirIn(mount, path);
  if (dir === null) {
    await stop();
    return `the systemd scope's cgroup ${String(path)} is not visible under ${mount.mountPoint}`;
  }
  const keeperLeaf = join(dir, "rlef-keeper");
  try {
    mkdirSync(keeperLeaf);
    // every process of the fresh scope is ours (the shell, and systemd-run if it stayed as its parent)
    for (const pid of readPids(dir)) moveProcess(pid, keeperLeaf);
  } catch (error) {
    await stop();
    return `systemd scope ${dir}: cannot move its keeper into ${keeperLeaf} (${errorCode(error)})`;
  }
  // Neither the keeper nor its pipes keep this process alive; it dies with us.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
  return {
    dir,
    pid: keeperPid,
    stop: async () => {
      await stop();
      await removeGroupDir(keeperLeaf).catch(() => undefined);
    },
  };
}

// ---- one run ----

/** The run's leaf cgroup. The launcher writes its own pid into `procsFiles` before it execs. */
export class RunCgroupV2 {
  private constructor(
    readonly dir: string,
    private readonly memory: boolean,
  ) {}

  static async create(setup: CgroupV2Setup, runName: string, limits: RunCgroupLimits): Promise<RunCgroupV2> {
    const run = new RunCgroupV2(join(setup.group, runName), setup.memory);
    // Synchronous for the reason cgroup-v1.ts gives: a few bytes on a kernel file system per run.
    try {
      mkdirSync(run.dir);
      if (setup.memory) {
        writeFileSync(join(run.dir, "memory.max"), String(limits.memoryBytes));
        // Without this, swap would let a program exceed the resident limit; absent when swap accounting is off.
        const swap = join(run.dir, "memory.swap.max");
        if (existsSync(swap)) writeFileSync(swap, "0");
      }
      if (setup.pids) writeFileSync(join(run.dir, "pids.max"), String(limits.maxProcesses));
    } catch (error) {
      await run.remove();
      throw new Error(`sandbox: cannot set up the run's cgroup ${run.dir}: ${String(error)}`);
    }
    return run;
  }

  get procsFiles(): string[] {
    return [join(this.dir, "cgroup.procs")];
  }

  async members(): Promise<number[]> {
    try {
      return readPids(this.dir);
    } catch {
      return []; // group already removed
    }
  }

  /**
   * Kills every member until none is left: cgroup.kill (Linux 5.14+) kills the whole cgroup at once, forks
   * in flight included; older kernels get SIGKILL sweeps, which the pids cap makes converge.
   */
  async killAll(deadlineMs = 5_000): Promise<boolean> {
    const killFile = join(this.dir, "cgroup.kill");
    if (!existsSync(killFile)) return killUntilEmpty(() => this.members(), sigkillEach, deadlineMs);
    const killGroup = () => {
      try {
        writeFileSync(killFile, "1");
      } catch {
        // removed meanwhile
      }
    };
    return killUntilEmpty(() => this.members(), killGroup, deadlineMs);
  }


  async usage(): Promise<RunCgroupUsage> {
    if (!this.memory) return { oomKilled: false };
    let peakMemoryBytes: number | undefined;
    let oomKilled = false;
    try {
      // memory.peak exists from Linux 5.19
      const peak = join(this.dir, "memory.peak");
      if (existsSync(peak)) peakMemoryBytes = Number(readFileSync(peak, "utf8").trim());
      const kills = /^oom_kill (\d+)$/m.exec(readFileSync(join(this.dir, "memory.events"), "utf8"));
      oomKilled = kills !== null && Number(kills[1]) > 0;
    } catch {
      // group vanished: report what we have
    }
    return { peakMemoryBytes, oomKilled };
  }

  async remove(): Promise<void> {
    if (existsSync(this.dir)) await removeGroupDir(this.dir);
  }
}

/** Removes empty `rlef-node-<pid>` leaves of processes that no longer exist (they never run dispose). */
export function removeLeavesOfDeadProcesses(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const owner = /^rlef-node-(\d+)$/.exec(name);
    if (!owner || Number(owner[1]) === process.pid) continue;
    try {
      process.kill(Number(owner[1]), 0);
      continue; // alive
    } catch (error) {
      if (errorCode(error) === "EPERM") continue;
    }
    try {
      rmdirSync(join(parent, name)); // fails while processes remain: then it is not stale
    } catch {
      // kept
    }
  }
}
