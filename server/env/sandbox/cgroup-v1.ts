// Per-run child cgroups on a cgroup v1 host (memory + pids), created under this process's own cgroups.
// Measured on the CI machine: we run as root, RLIMIT_NPROC does not bind root and a bwrap user namespace
// maps back to root, so the pids cgroup is the only thing that contains a fork bomb there; the memory
// cgroup limits resident memory (not address space, which Node and Jest need plenty of).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { killUntilEmpty, sigkillEach } from "./kill-members";

const CGROUP_ROOT = "/sys/fs/cgroup";

export interface CgroupV1Hierarchy {
  /** The folder our per-sandbox group lives in, e.g. /sys/fs/cgroup/memory/<own>/rlef-sandbox-123-ab12. */
  group: string;
}

export interface CgroupV1Setup {
  memory: CgroupV1Hierarchy | null;
  pids: CgroupV1Hierarchy | null;
  /** Why a controller is unavailable, in IsolationReport.missing form. */
  missing: string[];
}

/** The cgroup path of this process in one v1 hierarchy, from /proc/self/cgroup ("4:memory:/a/b"). */
async function ownCgroupPath(controller: string): Promise<string | null> {
  const text = await readFile("/proc/self/cgroup", "utf8");
  for (const line of text.split("\n")) {
    const [, controllers, path] = line.split(":");
    if (controllers !== undefined && path !== undefined && controllers.split(",").includes(controller)) return path;
  }
  return null;
}

async function prepareHierarchy(controller: "memory" | "pids", name: string): Promise<CgroupV1Hierarchy | string> {
  const mount = join(CGROUP_ROOT, controller);
  if (!existsSync(join(mount, "cgroup.procs"))) return `${controller}-cgroup: no cgroup v1 ${controller} hierarchy mounted`;
  const own = await ownCgroupPath(controller);
  if (own === null) return `${controller}-cgroup: this process is not in a ${controller} cgroup`;
  const parent = join(mount, own);
  await removeGroupsOfDeadProcesses(parent);
  const group = join(parent, name);
  try {
    await mkdir(group);
  } catch (error) {
    return `${controller}-cgroup: cannot create ${group} (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  return { group };
}

/** Names this module gives per-sandbox groups; the pid is the owning process. */
export function sandboxGroupName(pid: number, suffix: string): string {
  return `rlef-sandbox-${pid}-${suffix}`;
}

const GROUP_NAME = /^rlef-sandbox-(\d+)-[0-9a-f]+$/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A process killed with SIGKILL never runs dispose(); its groups would stay forever. Sweep the groups of
 * owners that no longer exist (killing anything still inside them) before creating ours.
 */
export async function removeGroupsOfDeadProcesses(parent: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(parent, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const owner = GROUP_NAME.exec(entry.name);
    if (!entry.isDirectory() || !owner || isAlive(Number(owner[1]))) continue;
    const group = join(parent, entry.name);
    try {
      for (const run of await readdir(group, { withFileTypes: true })) {
        if (!run.isDirectory()) continue;
        await killMembers(join(group, run.name));
        await removeGroupDir(join(group, run.name));
      }
      await removeGroupDir(group);
    } catch {
      // another process is sweeping the same group; it will finish the job
    }
  }
}

async function killMembers(dir: string): Promise<void> {
  for (let round = 0; round < 100; round++) {
    const members = (await readFile(join(dir, "cgroup.procs"), "utf8")).split("\n").filter(Boolean).map(Number);
    if (members.length === 0) return;
    for (const pid of members) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function isCgroupV1Host(): boolean {
  return existsSync(join(CGROUP_ROOT, "memory", "cgroup.procs")) || existsSync(join(CGROUP_ROOT, "pids", "cgroup.procs"));
}

/** Creates this sandbox's parent groups; each controller that cannot be used is explained in `missing`. */
export async function setUpCgroupV1(name: string): Promise<CgroupV1Setup> {
  const memory = await prepareHierarchy("memory", name);
  const pids = await prepareHierarchy("pids", name);
  const missing: string[] = [];
  if (typeof memory === "string") missing.push(memory);
  if (typeof pids === "string") missing.push(pids);
  return {
    memory: typeof memory === "string" ? null : memory,
    pids: typeof pids === "string" ? null : pids,
    missing,
  };
}

export interface RunCgroupLimits {
  memoryBytes: number;
  maxProcesses: number;
}

export interface RunCgroupUsage {
  peakMemoryBytes?: number;
  oomKilled: boolean;
}

/** The two child cgroups of one run. The launcher writes its own pid into `procsFiles` before it execs. */
export class RunCgroup {
  private constructor(
    private readonly memoryDir: string | null,
    private readonly pidsDir: string | null,
  ) {}

  static async create(setup: CgroupV1Setup, runName: string, limits: RunCgroupLimits): Promise<RunCgroup> {
    const memoryDir = setup.memory ? join(setup.memory.group, runName) : null;
    const pidsDir = setup.pids ? join(setup.pids.group, runName) : null;
    const run = new RunCgroup(memoryDir, pidsDir);
    // Synchronous: these are a few bytes on a kernel file system, done once or twice per run; an
    // asynchronous call costs a thread-pool round trip each, which under load was most of their time.
    try {
      if (memoryDir) {
        mkdirSync(memoryDir);
        writeFileSync(join(memoryDir, "memory.limit_in_bytes"), String(limits.memoryBytes));
        // Without this, swap would let a program exceed the resident limit; absent when swap accounting is off.
        const memsw = join(memoryDir, "memory.memsw.limit_in_bytes");
        if (existsSync(memsw)) writeFileSync(memsw, String(limits.memoryBytes));
      }
      if (pidsDir) {
        mkdirSync(pidsDir);
        writeFileSync(join(pidsDir, "pids.max"), String(limits.maxProcesses));
      }
    } catch (error) {
      await run.remove();
      throw new Error(`sandbox: cannot set up the run's cgroups: ${String(error)}`);
    }
    return run;
  }

  get procsFiles(): string[] {
    return [this.memoryDir, this.pidsDir].filter((d): d is string => d !== null).map((d) => join(d, "cgroup.procs"));
  }

  /** Pids still inside the run's cgroups. */
  async members(): Promise<number[]> {
    const pids = new Set<number>();
    for (const file of this.procsFiles) {
      try {
        for (const line of readFileSync(file, "utf8").split("\n")) if (line) pids.add(Number(line));
      } catch {
        // group already removed
      }
    }
    return [...pids];
  }

  /**
   * SIGKILLs every member until none is left. The pids cap bounds how fast a fork bomb can refill the group,
   * so repeated sweeps converge; gives up (and says so) after `deadlineMs`.
   */
  async killAll(deadlineMs = 5_000): Promise<boolean> {
    return killUntilEmpty(() => this.members(), sigkillEach, deadlineMs);
  }


  async usage(): Promise<RunCgroupUsage> {
    if (!this.memoryDir) return { oomKilled: false };
    let peakMemoryBytes: number | undefined;
    let oomKilled = false;
    try {
      peakMemoryBytes = Number(readFileSync(join(this.memoryDir, "memory.max_usage_in_bytes"), "utf8").trim());
      const oomControl = readFileSync(join(this.memoryDir, "memory.oom_control"), "utf8");
      const kills = /^oom_kill (\d+)$/m.exec(oomControl);
      if (kills) {
        oomKilled = Number(kills[1]) > 0;
      } else {
        // Kernels before 4.13 have no oom_kill counter; hitting the limit is the closest signal.
        const failures = Number(readFileSync(join(this.memoryDir, "memory.failcnt"), "utf8").trim());
        oomKilled = failures > 0 && /^under_oom 1$/m.test(oomControl);
      }
    } catch {
      // group vanished: report what we have
    }
    return { peakMemoryBytes, oomKilled };
  }

  async remove(): Promise<void> {
    for (const dir of [this.memoryDir, this.pidsDir]) {
      if (dir && existsSync(dir)) await removeGroupDir(dir);
    }
  }
}

/** rmdir on a cgroup fails with EBUSY while the kernel is still reaping its last members; retry briefly. */
export async function removeGroupDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (attempt >= 60) throw new Error(`sandbox: cannot remove cgroup ${dir}: ${code ?? String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(2 ** attempt, 20)));
    }
  }
}

export async function tearDownCgroupV1(setup: CgroupV1Setup): Promise<void> {
  for (const hierarchy of [setup.memory, setup.pids]) if (hierarchy) await removeGroupDir(hierarchy.group);
}
