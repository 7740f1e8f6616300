// What one sandboxed test command amounts to: the tests its report lists, plus a result for anything
// the report cannot say (the run timed out or ran out of memory, the report is missing or corrupt,
// no test ran, the command failed although every test passed). Commands without a report format
// fall back to their exit status and output tail.
import type { TestRunner } from "../types";
import type { ExecResult } from "../sandbox/types";
import { parseJestLikeJson } from "./jest-json";
import { parseNodeTestJsonLines } from "./node-test-jsonl";
import { outputTail } from "./output-tail";
import { parsePytestJunit } from "./pytest-junit";
import { MalformedReportError, type ReportedTest } from "./report";

export type FinishedRun = Pick<
  ExecResult,
  "exitCode" | "signal" | "termination" | "stdout" | "stderr" | "stdoutTruncated" | "stderrTruncated" | "wallMs" | "oomKilled"
>;

export interface CommandVerdict {
  tests: ReportedTest[];
  /** The runner has no machine-readable report: the verdict is the exit status. */
  fallback: boolean;
  /** The run did not produce a usable report, in words a user can act on. */
  error?: string;
}

export interface RunDescription {
  runner: TestRunner;
  /** The command as the user wrote it, used to name results that are about the whole run. */
  commandText: string;
  /** The wall-clock limit the run had, for the timeout message. */
  wallMs: number;
  /** Absolute path of the project copy inside the sandbox. */
  projectRoot: string;
}

const REPORT_NAMES: Record<Exclude<TestRunner, "command">, string> = {
  pytest: "JUnit XML report",
  "node-test": "JSON lines report",
  jest: "JSON report",
  vitest: "JSON report",
};

export function parseReport(runner: Exclude<TestRunner, "command">, text: string, projectRoot: string): ReportedTest[] {
  const context = { projectRoot };
  switch (runner) {
    case "pytest":
      return parsePytestJunit(text, context);
    case "node-test":
      return parseNodeTestJsonLines(text, context);
    case "jest":
    case "vitest":
      return parseJestLikeJson(text, runner, context);
  }
}

function howItEnded(run: FinishedRun): string {
  if (run.signal) return `was killed by ${run.signal}`;
  return `exited with code ${String(run.exitCode)}`;
}

/** A result for the whole run when it ended abnormally (timeout, memory, signal), else null. */
function abnormalEnd(run: FinishedRun, description: RunDescription, tail: string): ReportedTest | null {
  const base = { name: description.commandText, durationMs: run.wallMs };
  if (run.termination === "timeout") {
    return { ...base, outcome: "timeout", trace: `the test command did not finish within ${description.wallMs} ms and was stopped\n${tail}` };
  }
  if (run.termination === "memory" || run.oomKilled) {
    return { ...base, outcome: "out_of_memory", trace: `the test command ran out of memory and was stopped\n${tail}` };
  }
  if (run.termination === "signaled") {
    return { ...base, outcome: "exception", trace: `the test command ${howItEnded(run)}\n${tail}` };
  }
  return null;
}

function fallbackVerdict(run: FinishedRun, description: RunDescription, tail: string): CommandVerdict {
  const abnormal = abnormalEnd(run, description, tail);
  if (abnormal) return { tests: [abnormal], fallback: true };
  const name = description.commandText;
  if (run.exitCode === 0) return { tests: [{ name, outcome: "passed", durationMs: run.wallMs }], fallback: true };
  return {
    tests: [{ name, outcome: "wrong_answer", trace: `the test command ${howItEnded(run)}\n${tail}`, durationMs: run.wallMs }],
    fallback: true,
  };
}

/** Turns a finished run and its collected report (undefined when the file was missing) into a verdict. */
export function interpretRun(run: FinishedRun, report: Buffer | undefined, description: RunDescription): CommandVerdict {
  const tail = outputTail(run.stdout, run.stderr, run.stdoutTruncated || run.stderrTruncated);
  const { runner } = description;
  if (runner === "command") return fallbackVerdict(run, description, tail);

  let tests: ReportedTest[] = [];
  let reportProblem: string | undefined;
  if (report === undefined) {
    reportProblem = `${runner} wrote no ${REPORT_NAMES[runner]} (the command ${howItEnded(run)})`;
  } else {
    try {
      tests = parseReport(runner, report.toString("utf8"), description.projectRoot);
    } catch (error) {
      if (!(error instanceof MalformedReportError)) throw error;
      reportProblem = error.message;
    }
  }

  const abnormal = abnormalEnd(run, description, tail);
  if (abnormal) return { tests: [...tests, abnormal], fallback: false };
  const name = description.commandText;
  if (reportProblem !== undefined) {
    return { tests: [{ name, outcome: "exception", trace: `${reportProblem}\n${tail}`, durationMs: run.wallMs }], fallback: false, error: reportProblem };
  }
  if (tests.length === 0) {
    const trace = `no tests ran: the ${REPORT_NAMES[runner]} lists no test (the command ${howItEnded(run)})\n${tail}`;
    return { tests: [{ name, outcome: "exception", trace, durationMs: run.wallMs }], fallback: false };
  }
  if (run.exitCode !== 0 && tests.every((test) => test.outcome === "passed")) {
    const trace = `the test command ${howItEnded(run)} although every reported test passed\n${tail}`;
    return { tests: [...tests, { name, outcome: "exception", trace, durationMs: run.wallMs }], fallback: false };
  }
  return { tests, fallback: false };
}
