// Workspace tests: a temporary copy of what the run needs, the candidate written in, the test command run,
// failures read from the runner's machine-readable report.
//
// The copy is the sandbox's own fresh working directory, filled from a snapshot of the project;
// node_modules, virtual environments and .git are mounted read-only at the same relative place.
// The user's project is only ever read, so no cache or bytecode can appear in it.
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { IsolationReport, RunReport, TestResult, Visibility, WorkspaceTask } from "../types";
import type { ReadOnlyMount } from "../sandbox/types";
import { SANDBOX_WORKDIR } from "../sandbox/bwrap";
import type { RunOptions } from "./options";
import { applyCandidate, checkTargetPath } from "../workspace/candidate";
import { interpretRun, type CommandVerdict } from "../workspace/interpret";
import { inferProjectRoot } from "../workspace/project-root";
import { reportExtension, withReportFlags } from "../workspace/runner-command";
import { snapshotProject, type ProjectSnapshot } from "../workspace/snapshot";

/** Test runners start worker processes and threads (jest, vitest); the sandbox's default of 64 is too few. */
const WORKSPACE_MAX_PROCESSES = 256;

function failedBeforeTests(task: WorkspaceTask, isolation: IsolationReport, error: string): RunReport {
  return { taskId: task.id, results: [], passed: false, isolation, error };
}

/** The virtual environment the default `python3 -m pytest` should use: a top-level one, if any. */
async function virtualEnvPython(snapshot: ProjectSnapshot): Promise<string | null> {
  for (const dir of snapshot.readOnlyDirs) {
    if (dir.path.includes("/")) continue;
    try {
      const bin = await readdir(join(dir.host, "bin"));
      const python = ["python3", "python"].find((name) => bin.includes(name));
      if (python && (await readdir(dir.host)).includes("pyvenv.cfg")) return join(dir.host, "bin", python);
    } catch {
      // not a virtual environment
    }
  }
  return null;
}

async function runCommand(
  task: WorkspaceTask,
  command: string[],
  snapshot: ProjectSnapshot,
  files: Record<string, Buffer>,
  opts: RunOptions,
): Promise<{ verdict: CommandVerdict; isolation: IsolationReport }> {
  // An unguessable name, so the report cannot simply be written in advance by the candidate.
  const reportFile = `.rlef-report-${randomBytes(8).toString("hex")}.${reportExtension(task.runner)}`;
  // Relative to the run's working directory, which is the copy whether or not bubblewrap maps it to /work.
  const built = withReportFlags(task.runner, command, reportFile);
  const readOnly: ReadOnlyMount[] = snapshot.readOnlyDirs.map((dir) => ({ host: dir.host, sandbox: `${SANDBOX_WORKDIR}/${dir.path}` }));
  let argv = built.argv;
  if (task.runner === "pytest" && argv[0] === "python3") {
    const venvPython = await virtualEnvPython(snapshot);
    if (venvPython) {
      // Python finds its venv from the path it was started by, so the venv is also mounted where it lives.
      const venvRoot = join(venvPython, "..", "..");
      readOnly.push({ host: venvRoot, sandbox: venvRoot });
      argv = [venvPython, ...argv.slice(1)];
    }
  }
  const wallMs = Math.round(task.limits.timeMs * (opts.timeMultiplier ?? 1));
  const result = await opts.sandbox.exec({
    argv,
    files: { ...files, ...built.files },
    readOnly,
    env: built.env,
    collect: [reportFile],
    limits: { wallMs, memoryBytes: task.limits.memoryBytes, maxProcesses: WORKSPACE_MAX_PROCESSES },
    signal: opts.signal,
  });
  if (result.termination === "cancelled") throw new Error(`workspace tests of ${task.id} were cancelled`);
  const report = result.collected[reportFile];
  const projectRoot =
    result.isolation.mode === "none" && report ? (inferProjectRoot(report.toString("utf8"), new Set(snapshot.files.keys())) ?? SANDBOX_WORKDIR) : SANDBOX_WORKDIR;
  const verdict = interpretRun(result, report, { runner: task.runner, commandText: command.join(" "), wallMs, projectRoot });
  return { verdict, isolation: result.isolation };
}

function toResults(verdict: CommandVerdict, visibility: Visibility): TestResult[] {
  return verdict.tests.map((test, index) => ({
    index,
    visibility,
    outcome: test.outcome,
    input: test.name,
    name: test.name,
    ...(test.trace !== undefined ? { trace: test.trace } : {}),
    durationMs: test.durationMs,
  }));
}

export async function runWorkspaceTests(task: WorkspaceTask, code: string, opts: RunOptions): Promise<RunReport> {
  const isolation = opts.sandbox.isolation;
  let snapshot: ProjectSnapshot;
  let files: Record<string, Buffer>;
  try {
    const target = checkTargetPath(task.target.file);
    snapshot = await snapshotProject(task.root, task.readOnlyDirs ?? []);
    const insideReadOnly = snapshot.readOnlyDirs.find((dir) => target === dir.path || target.startsWith(`${dir.path}/`));
    if (insideReadOnly) throw new Error(`the target file ${target} is inside ${insideReadOnly.path}, which is mounted read-only`);
    if ([...snapshot.files.keys()].some((path) => path.startsWith(`${target}/`))) throw new Error(`the target ${target} is a folder, not a file`);
    const original = snapshot.files.get(target);
    const updated = applyCandidate(original === undefined ? null : original.toString("utf8"), code, task.target);
    files = Object.fromEntries(snapshot.files);
    files[target] = Buffer.from(updated, "utf8");
  } catch (error) {
    return failedBeforeTests(task, isolation, (error as Error).message);
  }

  const commands: Array<[string[], Visibility]> = [[task.command, "public"]];
  if (opts.which === "all" && task.heldOutCommand) commands.push([task.heldOutCommand, "private"]);
  const results: TestResult[] = [];
  let fallback = false;
  let error: string | undefined;
  let ranIsolation = isolation;
  for (const [command, visibility] of commands) {
    let ran;
    try {
      ran = await runCommand(task, command, snapshot, files, opts);
    } catch (failure) {
      if (opts.signal?.aborted) throw failure;
      return failedBeforeTests(task, isolation, (failure as Error).message);
    }
    ranIsolation = ran.isolation;
    results.push(...toResults(ran.verdict, visibility));
    fallback ||= ran.verdict.fallback;
    error ??= ran.verdict.error;
    if (opts.stopAtFirstFailure && results.some((result) => result.outcome !== "passed")) break;
  }
  return {
    taskId: task.id,
    results,
    passed: results.length > 0 && results.every((result) => result.outcome === "passed"),
    isolation: ranIsolation,
    ...(error !== undefined ? { error } : {}),
    ...(fallback ? { fallback } : {}),
  };
}
