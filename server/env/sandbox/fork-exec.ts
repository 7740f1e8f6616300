// Runs an ExecSpec on a worker's Python fork server when it is a `python3 [-B -E -I -s] -c CODE` or
// `python3 [-B -E -I -s] FILE` run of the server's own interpreter whose PYTHON* settings the child can
// honour (the function harness's `-I`, the stdio runner's `-B` and PYTHONHASHSEED=0 included); everything
// else goes through a fresh sandbox.
import { join } from "node:path";
import type { IsolationReport } from "../types";
import { createRunCgroup } from "./cgroups";
import {
  type Backend,
  checkSpec,
  classify,
  DEFAULT_FILE_BYTES,
  DEFAULT_MAX_PROCESSES,
  DEFAULT_MEMORY_BYTES,
  DEFAULT_OUTPUT_BYTES,
} from "./execute";
import { FORK_SERVER_HASH_SEED, type PythonForkServer } from "./fork-server";
import { scrubbedEnv } from "./program";
import type { ExecResult, ExecSpec } from "./types";
import { checkRelativePath, collectFiles } from "./workdir";

export interface ForkableProgram {
  /** The program's arguments after the interpreter and its flags: `-c CODE ...` or `FILE ...`. */
  args: string[];
  /** The interpreter flags the fork server reproduces in the child (a subset of FORKABLE_FLAGS). */
  flags: ForkableFlag[];
  binDir: string | null;
}

/**
 * Interpreter flags a forked child can reproduce exactly enough for a program to not tell the difference:
 * -B: the child sets sys.dont_write_bytecode.
 * -s: the server starts with an empty /work as HOME, so its sys.path never held a user site; the child
 *     also clears site.ENABLE_USER_SITE.
 * -E: the server's environment is scrubbed before it starts, so no PYTHON* variable shaped its start-up.
 * -I (-E and -s, and no script folder or cwd on sys.path): the child's sys.path is the server's start-up
 *     path minus the server's own script folder, so a module planted in /work (a json.py, a
 *     sitecustomize.py) is never found first; sitecustomize/usercustomize ran once in the server, at a time
 *     when /work was empty and not on sys.path. What the child cannot change is sys.flags, which a program
 *     reads as its own flags only by asking for them.
 * Any other flag (-m, -O, -X, -u, -W, ...) changes start-up in ways a fork cannot replay: a fresh sandbox.
 */
export const FORKABLE_FLAGS = ["-B", "-E", "-I", "-s"] as const;
export type ForkableFlag = (typeof FORKABLE_FLAGS)[number];

/**
 * PYTHON* variables of a run's environment that a forked child honours although start-up is long past; any
 * other one (PYTHONPATH, PYTHONSTARTUP, PYTHONUNBUFFERED, ...) would be silently ignored, so it runs fresh.
 */
function childHonours(name: string, value: string): boolean {
  if (name === "PYTHONHASHSEED") return value === FORK_SERVER_HASH_SEED;
  // the child's stdio is UTF-8 already (strict on stdout, backslashreplace on stderr, as this setting makes it)
  if (name === "PYTHONIOENCODING") return /^utf-?8$/i.test(value);
  if (name === "PYTHONDONTWRITEBYTECODE") return true;
  return false;
}

/** How the fork server would run `spec`, or null when it cannot. */
export async function forkableProgram(backend: Backend, spec: ExecSpec, serverPython: string): Promise<ForkableProgram | null> {
  if (spec.readOnly?.length) return null;
  const rest = spec.argv.slice(1);
  const flags: ForkableFlag[] = [];
  while (rest.length > 0 && (FORKABLE_FLAGS as readonly string[]).includes(rest[0])) flags.push(rest.shift() as ForkableFlag);
  const plainC = rest[0] === "-c" && rest.length >= 2;
  const plainFile = rest.length >= 1 && !rest[0].startsWith("-");
  if (!plainC && !plainFile) return null;
  const ignoresEnv = flags.includes("-E") || flags.includes("-I");
  if (!ignoresEnv) {
    for (const [name, value] of Object.entries(spec.env ?? {})) {
      if (name.startsWith("PYTHON") && !childHonours(name, value)) return null;
    }
  }
  const program = await backend.programs.resolve(spec.argv[0], []);
  return program.execPath === serverPython ? { args: rest, flags, binDir: program.binDir } : null;
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
  const cgroup = await createRunCgroup(backend.cgroups, runName, {
    memoryBytes: spec.limits.memoryBytes ?? DEFAULT_MEMORY_BYTES,
    maxProcesses: spec.limits.maxProcesses ?? DEFAULT_MAX_PROCESSES,
  });
  try {
    const outcome = await server.run({
      args: program.args,
      flags: program.flags,
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
