// Drives harness/python_harness.py in the sandbox: one process evaluates the cases in order; when the
// process dies in the middle (os._exit, the memory limit, a swallowed timeout), the case that was running is
// classified from how the process ended and a fresh process continues with the cases not yet started.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Outcome } from "../types";
import type { ExecResult, Sandbox } from "../sandbox/types";

/** A case as the harness reads it; `index` is the caller's numbering, echoed back in the results. */
export type HarnessCase =
  | { index: number; kind: "assert" | "script"; code: string }
  | { index: number; kind: "call"; argsJson: string; expectedJson?: string };

export interface HarnessProgram {
  mode: "judge" | "record";
  prelude?: string;
  candidate: string;
  preamble?: string;
  entryPoint: string;
  comparison?: { atol: number; rule?: string };
  /** Stop after the first case that does not pass; the cases after it get no result. */
  stopAtFirstFailure?: boolean;
}

export interface HarnessCaseResult {
  index: number;
  outcome: Outcome;
  actual?: string;
  expected?: string;
  trace?: string;
  /** Record mode: the result as tagged JSON. */
  valueJson?: string;
  /** A call case's call as Python printed it (set on failures). */
  input?: string;
  durationMs: number;
}

export interface HarnessRunLimits {
  caseTimeMs: number;
  memoryBytes: number;
  /** Total wall time for all processes of this run; cases not reached get a timeout. */
  budgetMs: number;
}

const HARNESS_NAME = "python_harness.py";
/** Room for the interpreter to start and the candidate to be imported, on top of the cases' own limits. */
const STARTUP_MS = 10_000;
const RESULT_CHANNEL_BYTES = 256 * 1024 * 1024;

let harnessSource: string | null = null;

/** The harness script: beside this module in the source tree, in dist/harness/ in the bundle. */
export function harnessScript(): string {
  if (harnessSource !== null) return harnessSource;
  const places = [join(__dirname, "harness", HARNESS_NAME), join(__dirname, "..", "server", "env", "run", "harness", HARNESS_NAME)];
  const found = places.find((p) => existsSync(p));
  if (!found) throw new Error(`python harness not found (looked in ${places.join(", ")})`);
  harnessSource = readFileSync(found, "utf8");
  return harnessSource;
}

interface HarnessEvent {
  event: "loaded" | "load_error" | "start" | "result" | "done";
  case?: number | null;
  outcome?: Outcome;
  actual?: string;
  expected?: string;
  trace?: string;
  valueJson?: string;
  input?: string;
  durationMs?: number | null;
}

/** Lines that start with this run's nonce; everything else on stdout is ignored. */
export function parseHarnessOutput(stdout: string, nonce: string): HarnessEvent[] {
  const events: HarnessEvent[] = [];
  const prefix = `${nonce} `;
  for (const line of stdout.split("\n")) {
    if (!line.startsWith(prefix)) continue;
    try {
      const parsed = JSON.parse(line.slice(prefix.length)) as HarnessEvent;
      if (parsed && typeof parsed === "object" && typeof parsed.event === "string") events.push(parsed);
    } catch {
      // A cut-off last line (output cap, killed mid-write) carries no result.
    }
  }
  return events;
}

function endedBecause(exec: ExecResult): { outcome: Outcome; why: string } {
  switch (exec.termination) {
    case "timeout":
      return { outcome: "timeout", why: "the run's time limit was reached" };
    case "memory":
      return { outcome: "out_of_memory", why: "the program ran out of memory" };
    case "cancelled":
      return { outcome: "exception", why: "the run was cancelled" };
    case "signaled":
      return { outcome: "exception", why: `the process was killed by ${exec.signal ?? "a signal"}` };
    case "exited":
      return { outcome: "exception", why: `the process exited with code ${exec.exitCode ?? "?"} (os._exit or a crash)` };
  }
}

export async function runHarness(
  sandbox: Sandbox,
  program: HarnessProgram,
  cases: HarnessCase[],
  limits: HarnessRunLimits,
  signal?: AbortSignal,
): Promise<{ results: HarnessCaseResult[]; isolation: ExecResult["isolation"] }> {
  const results = new Map<number, HarnessCaseResult>();
  let pending = cases;
  let isolation = sandbox.isolation;
  const began = Date.now();
  const finishAll = (list: HarnessCase[], outcome: Outcome, trace: string) => {
    for (const c of list) if (!results.has(c.index)) results.set(c.index, { index: c.index, outcome, trace, durationMs: 0 });
  };

  while (pending.length > 0) {
    const left = limits.budgetMs - (Date.now() - began);
    if (left <= 0) {
      finishAll(pending, "timeout", "not run: the run's overall time budget was spent on earlier cases");
      break;
    }
    const nonce = randomBytes(16).toString("hex");
    const spec = { nonce, ...program, caseTimeMs: limits.caseTimeMs, cases: pending };
    const exec = await sandbox.exec({
      argv: ["python3", "-I", HARNESS_NAME, "spec.json"],
      files: { [HARNESS_NAME]: harnessScript(), "spec.json": JSON.stringify(spec) },
      limits: {
        wallMs: Math.min(left, STARTUP_MS + limits.caseTimeMs * (pending.length + 1)),
        memoryBytes: limits.memoryBytes,
        outputBytes: RESULT_CHANNEL_BYTES,
      },
      signal,
    });
    isolation = exec.isolation;
    const events = parseHarnessOutput(exec.stdout.toString("utf8"), nonce);
    const loadError = events.find((e) => e.event === "load_error");
    if (loadError) {
      finishAll(pending, loadError.outcome ?? "exception", loadError.trace ?? "the program failed to load");
      break;
    }
    const ended = endedBecause(exec);
    if (!events.some((e) => e.event === "loaded")) {
      const stderr = exec.stderr.toString("utf8").trim();
      finishAll(pending, ended.outcome, `the program did not finish loading: ${ended.why}${stderr ? `\n${stderr}` : ""}`);
      break;
    }
    const started = new Set<number>();
    for (const e of events) {
      if (typeof e.case !== "number") continue;
      if (e.event === "start") started.add(e.case);
      if (e.event === "result" && !results.has(e.case) && e.outcome) {
        results.set(e.case, {
          index: e.case,
          outcome: e.outcome,
          actual: e.actual,
          expected: e.expected,
          trace: e.trace ?? (e.outcome === "timeout" ? "the case took longer than its time limit" : undefined),
          valueJson: e.valueJson,
          input: e.input,
          durationMs: e.durationMs ?? limits.caseTimeMs,
        });
      }
    }
    for (const index of started) {
      if (!results.has(index)) results.set(index, { index, outcome: ended.outcome, trace: `${ended.why} during this case`, durationMs: 0 });
    }
    if (program.stopAtFirstFailure && [...results.values()].some((r) => r.outcome !== "passed")) break;
    const next = pending.filter((c) => !started.has(c.index));
    if (next.length === pending.length) {
      finishAll(pending, ended.outcome, `not run: ${ended.why}`);
      break;
    }
    pending = next;
  }
  return { results: cases.flatMap((c) => results.get(c.index) ?? []), isolation };
}
