// The sandbox contract: run one untrusted program with limits and report exactly what happened.
import type { IsolationReport } from "../types";

export interface SandboxLimits {
  /** Wall-clock limit in ms; the whole process tree is killed when it passes. */
  wallMs: number;
  /** CPU-time limit in ms (RLIMIT_CPU / cgroup), defaults to wallMs. */
  cpuMs?: number;
  /** Resident memory limit in bytes (cgroup memory where available). Default 1 GiB. */
  memoryBytes?: number;
  /** Maximum number of processes/threads (pids cgroup where available). Default 64. */
  maxProcesses?: number;
  /** Cap on captured stdout and on stderr, each, in bytes. Default 1 MiB. */
  outputBytes?: number;
  /** Largest file the program may write (RLIMIT_FSIZE), in bytes. Default 256 MiB. */
  fileBytes?: number;
}

export interface ReadOnlyMount {
  /** Absolute host path. */
  host: string;
  /** Absolute path inside the sandbox. */
  sandbox: string;
}

export interface ExecSpec {
  /** Program and arguments; argv[0] is resolved to a real path on the host (no shims) and mounted read-only. */
  argv: string[];
  stdin?: string | Buffer;
  /** Files written into the private writable working directory before the run (relative paths). */
  files?: Record<string, string | Buffer>;
  /** Extra read-only mounts (a workspace copy's node_modules, a virtual environment). */
  readOnly?: ReadOnlyMount[];
  /** Environment variables; the environment is otherwise scrubbed (PATH, HOME=workdir, LANG=C.UTF-8). */
  env?: Record<string, string>;
  /** Relative paths inside the working directory to read back after the run (e.g. a JUnit XML report). */
  collect?: string[];
  limits: SandboxLimits;
  signal?: AbortSignal;
}

export type Termination = "exited" | "timeout" | "memory" | "cancelled" | "signaled";

export interface ExecResult {
  exitCode: number | null;
  /** Signal name if the program was killed by a signal. */
  signal: string | null;
  termination: Termination;
  stdout: Buffer;
  stderr: Buffer;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  wallMs: number;
  /** Peak resident memory in bytes when measurable. */
  peakMemoryBytes?: number;
  /** The memory cgroup's OOM killer killed a process of this run (the judge maps this to out_of_memory). */
  oomKilled?: boolean;
  /** Collected files (absent when missing). */
  collected: Record<string, Buffer>;
  isolation: IsolationReport;
}

export interface Sandbox {
  exec(spec: ExecSpec): Promise<ExecResult>;
  /** What this sandbox enforces on this machine. */
  readonly isolation: IsolationReport;
  /** Stop all running programs and release resources. */
  dispose(): Promise<void>;
}
