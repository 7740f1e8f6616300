// The run's cgroup, whichever hierarchy this host has: the v1 pair (memory + pids) or one v2 leaf. The
// rest of the sandbox (execute.ts, the fork server) sees only this interface.
import { type CgroupV1Setup, type RunCgroupLimits, type RunCgroupUsage, RunCgroup, tearDownCgroupV1 } from "./cgroup-v1";
import { type CgroupV2Setup, RunCgroupV2, tearDownCgroupV2 } from "./cgroup-v2";

export type SandboxCgroups = CgroupV1Setup | CgroupV2Setup;

export interface RunCgroupControl {
  /** cgroup.procs files the run's first process joins before it execs anything. */
  readonly procsFiles: string[];
  members(): Promise<number[]>;
  /** true once no process is left; false when some survived `deadlineMs`. */
  killAll(deadlineMs?: number): Promise<boolean>;
  usage(): Promise<RunCgroupUsage>;
  remove(): Promise<void>;
}

function isV2(setup: SandboxCgroups): setup is CgroupV2Setup {
  return "version" in setup && setup.version === 2;
}

export function createRunCgroup(setup: SandboxCgroups, runName: string, limits: RunCgroupLimits): Promise<RunCgroupControl> {
  return isV2(setup) ? RunCgroupV2.create(setup, runName, limits) : RunCgroup.create(setup, runName, limits);
}

export function tearDownCgroups(setup: SandboxCgroups): Promise<void> {
  return isV2(setup) ? tearDownCgroupV2(setup) : tearDownCgroupV1(setup);
}
