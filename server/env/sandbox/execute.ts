// One sandboxed run, start to finish: working directory, cgroups, launch, limits, kill, classify, clean up.
// The launch order that leaves no process outside the limits is explained in launcher.ts.
import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import type { IsolationReport } from "../types";
import { bwrapArgs, SANDBOX_WORKDIR } from "./bwrap";
import { CappedCapture } from "./capture";
import { createRunCgroup, type RunCgroupControl, type SandboxCgroups } from "./cgroups";
import { checkReadOnlyMounts, type ProgramResolver, scrubbedEnv } from "./program";
import { launcherArgv, STATUS_FD } from "./launcher";
import type { ExecResult, ExecSpec, Termination } from "./types";
import { collectFiles, createWorkdir, removeWorkdir, writeSpecFiles } from "./workdir";
import { mkdir, symlink } from "node:fs/promises";
import { dirname, relative } from "node:path";

export const DEFAULT_MEMORY_BYTES = 1024 ** 3;
export const DEFAULT_MAX_PROCESSES = 64;
export const DEFAULT_OUTPUT_BYTES = 1024 * 1024;
export const DEFAULT_FILE_BYTES = 256 * 1024 * 1024;
/** bwrap outside plus bwrap's init inside the pid namespace also count against pids.max. */
const SANDBOX_OWN_PROCESSES = 2;
/** How long to wait for output pipes to close after the run's processes are dead. */
const PIPE_DRAIN_MS = 2_000;
/** What a sandbox instance found on this machine; fixed for its lifetime. */
export interface Backend {
  isolation: IsolationReport;
  /** null: unisolated (consented) mode. */
  bwrapPath: string | null;
  /** Bytes per `ulimit -f` block of /bin/sh (see launcher.ts). */
  fileBlockBytes: number;
  cgroups: SandboxCgroups | null;
  /** Synthetic /etc files for bwrap. */
  etcDir: string;
  programs: ProgramResolver;
}

export function checkSpec(spec: ExecSpec): void {
  if (!spec || typeof spec !== "object") throw new Error("sandbox: exec needs a spec object");
  if (!Array.isArray(spec.argv) || spec.argv.length === 0) throw new Error("sandbox: argv must be a non-empty array");
  for (const [i, arg] of spec.argv.entries()) {
    if (typeof arg !== "string" || arg.includes("\0")) throw new Error(`sandbox: argv[${i}] must be a string without NUL bytes`);
  }
  const limits = spec.limits;
  if (!limits || typeof limits !== "object") throw new Error("sandbox: limits are required (at least wallMs)");
  const positive: Array<[string, number | undefined]> = [
    ["wallMs", limits.wallMs],
    ["cpuMs", limits.cpuMs],
    ["memoryBytes", limits.memoryBytes],
    ["maxProcesses", limits.maxProcesses],
    ["outputBytes", limits.outputBytes],
    ["fileBytes", limits.fileBytes],
  ];
  for (const [name, value] of positive) {
    if (value === undefined && name !== "wallMs") continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new Error(`sandbox: limits.${name} must be a positive finite number, got ${String(value)}`);
    }
  }
  if (limits.maxProcesses !== undefined && !Number.isInteger(limits.maxProcesses)) {
    throw new Error(`sandbox: limits.maxProcesses must be an integer, got ${limits.maxProcesses}`);
  }
}

export function cancelledResult(isolation: IsolationReport): ExecResult {
  return {
    exitCode: null,
    signal: null,
    termination: "cancelled",
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    stdoutTruncated: false,
    stderrTruncated: false,
    wallMs: 0,
    collected: {},
    isolation: copyReport(isolation),
  };
}

function copyReport(report: IsolationReport): IsolationReport {
  return { mode: report.mode, enforced: [...report.enforced], missing: [...report.missing] };
}

function signalName(number: number): string | null {
  for (const [name, value] of Object.entries(osConstants.signals)) if (value === number) return name;
  return null;
}

interface RawExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  status: string;
  stderrForSetupError: Buffer;
}

export async function executeRun(backend: Backend, spec: ExecSpec, runName: string, signal: AbortSignal): Promise<ExecResult> {
  checkSpec(spec);
  const readOnly = checkReadOnlyMounts(spec.readOnly ?? []);
  const limits = {
    wallMs: spec.limits.wallMs,
    cpuMs: spec.limits.cpuMs ?? spec.limits.wallMs,
    memoryBytes: spec.limits.memoryBytes ?? DEFAULT_MEMORY_BYTES,
    maxProcesses: spec.limits.maxProcesses ?? DEFAULT_MAX_PROCESSES,
    outputBytes: spec.limits.outputBytes ?? DEFAULT_OUTPUT_BYTES,
    fileBytes: spec.limits.fileBytes ?? DEFAULT_FILE_BYTES,
  };
  if (signal.aborted) return cancelledResult(backend.isolation);
  const program = await backend.programs.resolve(spec.argv[0], readOnly);
  const isolated = backend.bwrapPath !== null;

  const workdir = await createWorkdir();
  let cgroup: RunCgroupControl | null = null;
  try {
    await writeSpecFiles(workdir, spec.files ?? {});
    if (!isolated) await linkMountsIntoWorkdir(workdir, readOnly);
    if (backend.cgroups) {
      cgroup = await createRunCgroup(backend.cgroups, runName, {
        memoryBytes: limits.memoryBytes,
        maxProcesses: limits.maxProcesses + (isolated ? SANDBOX_OWN_PROCESSES : 0),
      });
    }
    const env = scrubbedEnv({
      binDir: program.binDir,
      home: isolated ? SANDBOX_WORKDIR : workdir,
      tmp: isolated ? "/tmp" : workdir,
      extra: spec.env,
    });
    const programArgv = [program.execPath, ...spec.argv.slice(1)];
    const sandboxed = isolated
      ? [
          backend.bwrapPath as string,
          ...bwrapArgs({
            workdir,
            readOnly: [...(program.mount ? [{ host: program.mount, sandbox: program.mount }] : []), ...readOnly],
            env,
            argv: programArgv,
            etcDir: backend.etcDir,
            statusFd: STATUS_FD,
          }),
        ]
      : programArgv;
    const launcher = launcherArgv({
      cgroupProcsFiles: cgroup?.procsFiles ?? [],
      keepStatusFd: isolated,
      cpuMs: limits.cpuMs,
      fileBytes: limits.fileBytes,
      fileBlockBytes: backend.fileBlockBytes,
      command: sandboxed,
    });

    const started = Date.now();
    let killedBy: "timeout" | "cancelled" | null = null;
    const stdout: { capture?: CappedCapture } = {};
    const stderr: { capture?: CappedCapture } = {};
    const raw = await new Promise<RawExit>((resolve, reject) => {
      const child = spawn("/bin/sh", launcher, {
        cwd: workdir,
        // bwrap clears the environment itself; unisolated, the launcher's environment is the program's.
        env: isolated ? { PATH: "/usr/bin:/bin" } : env,
        stdio: ["pipe", "pipe", "pipe", "pipe"],
        detached: true,
      });
      const killTree = (reason: "timeout" | "cancelled" | null) => {
        if (reason && !killedBy) killedBy = reason;
        if (child.pid === undefined) return;
        // The spawned pid is bwrap (or the program, unisolated) after the launcher's exec. Killing bwrap
        // kills the pid namespace's init, and with it every process inside; the group kill covers the
        // unisolated case; the cgroup sweep covers anything that escaped both.
        for (const target of [child.pid, -child.pid]) {
          try {
            process.kill(target, "SIGKILL");
          } catch {
            // already gone
          }
        }
        if (cgroup) void cgroup.killAll().catch(() => undefined);
      };
      const timer = setTimeout(() => killTree("timeout"), limits.wallMs);
      const onAbort = () => killTree("cancelled");
      signal.addEventListener("abort", onAbort, { once: true });

      stdout.capture = new CappedCapture(child.stdout!, limits.outputBytes);
      stderr.capture = new CappedCapture(child.stderr!, limits.outputBytes);
      let status = "";
      const statusPipe = child.stdio[STATUS_FD] as NodeJS.ReadableStream;
      statusPipe.setEncoding("utf8");
      statusPipe.on("data", (text: string) => (status += text));
      statusPipe.on("error", () => undefined);

      child.stdin!.on("error", () => undefined); // a program that never reads stdin closes the pipe early
      child.stdin!.end(spec.stdin ?? "");

      child.on("error", (error) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        reject(new Error(`sandbox: cannot start the launcher: ${error.message}`));
      });
      child.on("exit", (code, exitSignal) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        // Whatever the program left running (a background child, a daemon) dies with it.
        killTree(null);
        const drained = Promise.all([stdout.capture!.done, stderr.capture!.done]);
        const guard = new Promise<void>((r) => setTimeout(r, PIPE_DRAIN_MS).unref());
        void Promise.race([drained, guard]).then(async () => {
          child.stdout!.destroy();
          child.stderr!.destroy();
          if (cgroup && !(await cgroup.killAll())) {
            reject(new Error(`sandbox: processes of ${runName} survived SIGKILL; refusing to continue`));
            return;
          }
          resolve({ code, signal: exitSignal, status, stderrForSetupError: stderr.capture!.bytes() });
        });
      });
    });
    const wallMs = Date.now() - started;

    const launcherError = /^launcher-error: (.*)$/m.exec(raw.status);
    if (launcherError) throw new Error(`sandbox: ${launcherError[1]}`);

    const usage = cgroup ? await cgroup.usage() : { oomKilled: false, peakMemoryBytes: undefined };
    let exitCode = raw.code;
    let exitSignal: string | null = raw.signal;
    if (isolated) {
      const reported = /"exit-code":\s*(\d+)/.exec(raw.status);
      if (reported) {
        // bwrap reports a program killed by signal N as 128+N, the shell convention; read it back that way.
        exitCode = Number(reported[1]);
        exitSignal = null;
        if (exitCode > 128 && exitCode <= 128 + 64) {
          exitSignal = signalName(exitCode - 128);
          if (exitSignal) exitCode = null;
        }
      } else if (!killedBy && !usage.oomKilled) {
        const detail = raw.stderrForSetupError.toString("utf8").trim();
        throw new Error(`sandbox: bubblewrap could not start ${program.execPath}: ${detail || `exit ${String(raw.code)}`}`);
      } else {
        exitCode = null;
        exitSignal = "SIGKILL";
      }
    }

    const termination = classify({ killedBy, oomKilled: usage.oomKilled, exitCode, signal: exitSignal });
    const collected = spec.collect?.length ? await collectFiles(workdir, spec.collect) : {};
    return {
      exitCode,
      signal: exitSignal,
      termination,
      stdout: stdout.capture!.bytes(),
      stderr: stderr.capture!.bytes(),
      stdoutTruncated: stdout.capture!.truncated,
      stderrTruncated: stderr.capture!.truncated,
      wallMs,
      peakMemoryBytes: usage.peakMemoryBytes,
      oomKilled: usage.oomKilled,
      collected,
      isolation: copyReport(backend.isolation),
    };
  } finally {
    if (cgroup) {
      await cgroup.killAll();
      await cgroup.remove();
    }
    await removeWorkdir(workdir);
  }
}

export function classify(run: {
  killedBy: "timeout" | "cancelled" | null;
  oomKilled: boolean;
  exitCode: number | null;
  signal: string | null;
}): Termination {
  if (run.killedBy === "cancelled") return "cancelled";
  // A process of the run was OOM-killed and the run did not finish cleanly: memory, even if the wall
  // clock also ran out while it thrashed.
  if (run.oomKilled && run.exitCode !== 0) return "memory";
  if (run.killedBy === "timeout") return "timeout";
  if (run.signal === "SIGXCPU") return "timeout";
  if (run.signal) return "signaled";
  return "exited";
}

/** Unisolated runs have no mount namespace: a mount aimed inside the working directory becomes a symlink. */
async function linkMountsIntoWorkdir(workdir: string, mounts: { host: string; sandbox: string }[]): Promise<void> {
  for (const mount of mounts) {
    if (mount.host === mount.sandbox) continue;
    const inside = relative(SANDBOX_WORKDIR, mount.sandbox);
    if (inside.startsWith("..") || inside === "") {
      throw new Error(`sandbox: unisolated mode cannot place ${mount.host} at ${mount.sandbox} (no mount namespace)`);
    }
    const target = join(workdir, inside);
    await mkdir(dirname(target), { recursive: true });
    await symlink(mount.host, target);
  }
}
