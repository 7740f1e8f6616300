// What a test runner's machine-readable report says about each test, before it becomes a TestResult.
import type { Outcome } from "../types";

/** One test as a runner reported it. Skipped tests are left out: they neither pass nor fail. */
export interface ReportedTest {
  /** Test id, e.g. `tests/test_calc.py::test_add` or `calc > add adds`. */
  name: string;
  outcome: Outcome;
  /** Failure message and trace, already trimmed to the user's code. */
  trace?: string;
  durationMs: number;
}

/** How paths look inside the runner's process, so traces can be made relative to the project. */
export interface ReportContext {
  /** Absolute path of the project copy as the runner saw it (its cwd). */
  projectRoot: string;
}

/** The report file exists but cannot be understood (runner crashed mid-write, candidate tampered with it). */
export class MalformedReportError extends Error {
  constructor(format: string, detail: string) {
    super(`the ${format} report is malformed: ${detail}`);
    this.name = "MalformedReportError";
  }
}

/** Seconds (JUnit `time`) to whole milliseconds; absent or garbage counts as 0. */
export function secondsToMs(value: string | undefined): number {
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 0;
}

/** Milliseconds from a JSON report; absent or garbage counts as 0. */
export function toMs(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}
