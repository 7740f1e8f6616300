// `rlef verify`'s engine: for every task, runs each verification program of its set and checks the verdict
// (reference passes, mutant fails, special-oracle alternatives pass). Tasks run concurrently; the sandbox's
// worker pool bounds how many programs actually execute at once.
import { runTests } from "../run";
import type { Sandbox } from "../sandbox/types";
import type { Task } from "../types";
import type { VerificationProgram } from "../tasks/set";
import type { VerifyExclusion } from "./exclusions";

export interface ProgramVerdict {
  label: string;
  mustPass: boolean;
  passed: boolean;
  /** Why a program got the wrong verdict: the first failing test, or the run's error. */
  detail?: string;
}

export interface TaskVerification {
  taskId: string;
  ok: boolean;
  programs: ProgramVerdict[];
  durationMs: number;
  /** Set when the task's failure is a documented dataset error (verify-exclusions.json). */
  excludedBecause?: string;
  /** The set gave no program to run (no reference solution). */
  skipped?: boolean;
}

export interface VerifyOptions {
  sandbox: Sandbox;
  /** Multiplies every time limit so machine load cannot flip a verdict. */
  timeMultiplier: number;
  /** Tasks in flight at once; programs still queue for the sandbox's workers. */
  concurrency: number;
  exclusions: VerifyExclusion[];
  signal?: AbortSignal;
  onTask?: (result: TaskVerification) => void;
}

function firstFailure(report: Awaited<ReturnType<typeof runTests>>): string | undefined {
  if (report.error) return report.error;
  const bad = report.results.find((r) => r.outcome !== "passed");
  if (!bad) return undefined;
  const parts = [`${bad.visibility} #${bad.index} ${bad.outcome}: ${bad.input.trim().slice(0, 300)}`];
  if (bad.expected !== undefined) parts.push(`expected ${bad.expected.slice(0, 300)}`);
  if (bad.actual !== undefined) parts.push(`actual ${bad.actual.slice(0, 300)}`);
  if (bad.trace) parts.push(bad.trace.trim().split("\n").slice(-3).join(" | ").slice(0, 400));
  return parts.join("; ");
}

export async function verifyTask(
  task: Task,
  programs: VerificationProgram[],
  opts: Pick<VerifyOptions, "sandbox" | "timeMultiplier" | "signal" | "exclusions">,
): Promise<TaskVerification> {
  const began = Date.now();
  const verdicts: ProgramVerdict[] = [];
  // In order: the reference first, so differential expected outputs are computed once and cached.
  for (const p of programs) {
    const report = await runTests(task, p.code, {
      sandbox: opts.sandbox,
      which: "all",
      timeMultiplier: opts.timeMultiplier,
      // A program that must fail needs only one failing test to prove it.
      stopAtFirstFailure: !p.mustPass,
      signal: opts.signal,
    });
    const verdict: ProgramVerdict = { label: p.label, mustPass: p.mustPass, passed: report.passed };
    if (report.passed !== p.mustPass) verdict.detail = report.passed ? "passed every test" : firstFailure(report);
    verdicts.push(verdict);
  }
  const ok = verdicts.every((v) => v.passed === v.mustPass);
  const exclusion = opts.exclusions.find((e) => e.set === task.set && e.taskId === task.id);
  return {
    taskId: task.id,
    ok,
    programs: verdicts,
    durationMs: Date.now() - began,
    ...(exclusion && !ok ? { excludedBecause: exclusion.reason } : {}),
    ...(programs.length === 0 ? { skipped: true } : {}),
  };
}

/** Verifies tasks with at most `concurrency` in flight; results come back in the tasks' order. */
export async function verifyTasks(
  tasks: Task[],
  programsFor: (task: Task) => VerificationProgram[],
  opts: VerifyOptions,
): Promise<TaskVerification[]> {
  const results: TaskVerification[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length && !opts.signal?.aborted) {
      const i = next++;
      results[i] = await verifyTask(tasks[i], programsFor(tasks[i]), opts);
      opts.onTask?.(results[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  return results.filter(Boolean);
}

export interface VerifySummary {
  passed: number;
  total: number;
  excluded: number;
  skipped: number;
  failures: { taskId: string; programs: ProgramVerdict[] }[];
}

/** Excluded (documented dataset errors) and skipped (nothing to run) tasks are outside `total`. */
export function summarise(results: TaskVerification[]): VerifySummary {
  const counted = results.filter((r) => !r.excludedBecause && !r.skipped);
  return {
    passed: counted.filter((r) => r.ok).length,
    total: counted.length,
    excluded: results.filter((r) => r.excludedBecause).length,
    skipped: results.filter((r) => r.skipped).length,
    failures: counted.filter((r) => !r.ok).map((r) => ({ taskId: r.taskId, programs: r.programs.filter((p) => p.passed !== p.mustPass) })),
  };
}
