// Runs an ExecSpec on a worker's Python fork server when it is a plain `python3 -c CODE` or
// `python3 FILE` run of the server's own interpreter; everything else goes through a fresh sandbox.
import { join } from "node:path";
import type { IsolationReport } from "../types";
import { RunCgroup } from "./cgroup-v1";
import {
  type Backend,
  checkSpec,
  classify,
  DEFAULT_FILE_BYTES,
  DEFAULT_MAX_PROCESSES,
  DEFAULT_MEMORY_BYTES,
  DEFAULT_OUTPUT_BYTES,
} from "./execute";
import type { PythonForkServer } from "./fork-server";
import { scrubbedEnv } from "./program";
import type { ExecResult, ExecSpec } from "./types";
import { checkRelativePath, collectFiles } from "./workdir";

export interface ForkableProgram {
  /** The program's arguments after the interpreter. */
  args: string[];
  binDir: string | null;
}

/** How the fork server would run `spec`, or null when it cannot. */
export async function forkableProgram(backend: Backend, spec: ExecSpec, serverPython: string): Promise<ForkableProgram | null> {
  if (spec.readOnly?.length) return null;
  const args = spec.argv.slice(1);
  const plainC = args[0] === "-c" && args.length >= 2;
  const plainFile = args.length >= 1 && !args[0].startsWith("-");
  if (!plainC && !plainFile) return null;
  const program = await backend.programs.resolve(spec.argv[0], []);
  return program.execPath === serverPython ? { args, binDir: program.binDir } : null;
}

export function forkServerReport(isolation: IsolationReport): IsolationReport {
  return {
    mode: isolation.mode,
    enforced: [...isolation.enforced, "fork-server"],
    missing: [
      ...isolation.missing,
      "per-run-namespaces: fork-server runs share their worker's namespaces; /work, /tmp and /dev/shm are wiped between runs",
    ],
  };
}

export async function executeOnForkServer(
  backend: Backend,
  server: PythonForkServer,
  spec: ExecSpec,
  program: ForkableProgram,
  runName: string,
  signal: AbortSignal,
): Promise<ExecResult> {
  checkSpec(spec);
  if (!backend.cgroups?.memory || !backend.cgroups.pids) throw new Error("sandbox: the fork server needs memory and pids cgroups");
  const files: Record<string, string | Buffer> = {};
  for (const [path, content] of Object.entries(spec.files ?? {})) files[checkRelativePath(path, "files")] = content;
  for (const path of spec.collect ?? []) checkRelativePath(path, "collect");
  // PWD as bwrap --chdir sets it for a fresh sandbox, so that both kinds of run see the same environment.
  const env = { ...scrubbedEnv({ binDir: program.binDir, home: "/work", tmp: "/tmp", extra: spec.env }), PWD: "/work" };
  const cgroup = await RunCgroup.create(backend.cgroups, runName, {
    memoryBytes: spec.limits.memoryBytes ?? DEFAULT_MEMORY_BYTES,
    maxProcesses: spec.limits.maxProcesses ?? DEFAULT_MAX_PROCESSES,
  });
  try {
    const outcome = await server.run({
      args: program.args,
      env,
      stdin: spec.stdin ?? "",
      files,
      cpuMs: spec.limits.cpuMs ?? spec.limits.wallMs,
      fileBytes: spec.limits.fileBytes ?? DEFAULT_FILE_BYTES,
      outputBytes: spec.limits.outputBytes ?? DEFAULT_OUTPUT_BYTES,
      wallMs: spec.limits.wallMs,
      cgroup,
      signal,
    });
    const usage = await cgroup.usage();
    const collected = spec.collect?.length ? await collectFiles(server.workdir, spec.collect) : {};
    return {
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      termination: classify({ killedBy: outcome.killedBy, oomKilled: usage.oomKilled, exitCode: outcome.exitCode, signal: outcome.signal }),
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      stdoutTruncated: outcome.stdoutTruncated,
      stderrTruncated: outcome.stderrTruncated,
      wallMs: outcome.wallMs,
      peakMemoryBytes: usage.peakMemoryBytes,
      oomKilled: usage.oomKilled,
      collected,
      isolation: forkServerReport(backend.isolation),
    };
  } finally {
    await cgroup.killAll();
    await cgroup.remove();
  }
}

export function forkServerFolder(stateDir: string, index: number): string {
  return join(stateDir, `fork-server-${index}`);
}
