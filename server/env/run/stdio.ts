// stdin/stdout tasks: one sandboxed process per test input, judged by the task's checker.
import { judgeOutput } from "../judge";
import type { ExecResult } from "../sandbox/types";
import type { Outcome, RunReport, StdioTask, StdioTest, TestResult, Visibility } from "../types";
import type { RunOptions } from "./options";

/** The candidate's file name inside the sandbox; traces name it and nothing else of the sandbox. */
export const PROGRAM_FILE = "main.py";

/** Output kept per test: enough for any expected output, bounded so a runaway printer cannot exhaust memory. */
const MIN_OUTPUT_CAP = 1024 * 1024;
/** Most stderr kept as a trace, from its end (where the exception is). */
const TRACE_LIMIT = 16 * 1024;

export async function runStdioTests(task: StdioTask, code: string, opts: RunOptions): Promise<RunReport> {
  const multiplier = opts.timeMultiplier ?? 1;
  if (!(multiplier > 0)) throw new Error(`timeMultiplier must be positive, got ${multiplier}`);
  const groups: [Visibility, StdioTest[]][] = [["public", task.publicTests]];
  if (opts.which === "all") groups.push(["private", task.privateTests]);
  const results: TestResult[] = [];
  for (const [visibility, tests] of groups) {
    for (let index = 0; index < tests.length; index++) {
      opts.signal?.throwIfAborted();
      const result = await runOneTest(task, code, tests[index], index, visibility, multiplier, opts);
      results.push(result);
      if (opts.stopAtFirstFailure && result.outcome !== "passed") break;
    }
    if (opts.stopAtFirstFailure && results.some((r) => r.outcome !== "passed")) break;
  }
  const report: RunReport = {
    taskId: task.id,
    results,
    // No tests is never a pass: an early stop must not be vacuous.
    passed: results.length > 0 && results.every((r) => r.outcome === "passed"),
    isolation: opts.sandbox.isolation,
  };
  if (results.length === 0) report.error = `task ${task.id} has no ${opts.which === "public" ? "public " : ""}tests to run`;
  return report;
}

async function runOneTest(
  task: StdioTask,
  code: string,
  test: StdioTest,
  index: number,
  visibility: Visibility,
  multiplier: number,
  opts: RunOptions,
): Promise<TestResult> {
  const wallMs = Math.ceil(task.limits.timeMs * multiplier);
  const exec = await opts.sandbox.exec({
    argv: ["python3", "-B", PROGRAM_FILE],
    files: { [PROGRAM_FILE]: code },
    stdin: test.input,
    env: { PYTHONHASHSEED: "0", PYTHONIOENCODING: "utf-8" },
    limits: {
      wallMs,
      memoryBytes: task.limits.memoryBytes,
      outputBytes: Math.max(MIN_OUTPUT_CAP, 2 * Buffer.byteLength(test.output) + 64 * 1024),
    },
    signal: opts.signal,
  });
  if (exec.termination === "cancelled") throw new Error(`run of ${task.id} was cancelled`);
  const actual = exec.stdout.toString("utf8");
  const result: TestResult = {
    index,
    visibility,
    outcome: "passed",
    input: test.input,
    expected: test.output,
    actual,
    durationMs: exec.wallMs,
  };
  if (exec.stdoutTruncated) result.outputTruncated = true;
  const failure = processFailure(exec);
  if (failure) {
    result.outcome = failure.outcome;
    if (failure.trace) result.trace = failure.trace;
    return result;
  }
  // Output cut at the cap is longer than any accepted answer, so it is a wrong answer, said as such.
  const verdict = exec.stdoutTruncated ? { passed: false, mismatch: "output exceeded the cap and was cut" } : judgeOutput(test.output, actual, task.checker);
  if (!verdict.passed) {
    result.outcome = "wrong_answer";
    if (verdict.mismatch) result.trace = verdict.mismatch;
  }
  return result;
}

/** What went wrong with the process itself, before its output is judged; null when it exited cleanly. */
export function processFailure(exec: ExecResult): { outcome: Outcome; trace?: string } | null {
  const stderr = exec.stderr.toString("utf8");
  switch (exec.termination) {
    case "timeout":
      return { outcome: "timeout" };
    case "memory":
      return { outcome: "out_of_memory" };
    case "exited":
      if (exec.exitCode === 0) return null;
      break;
    case "signaled":
    case "cancelled":
      break;
  }
  if (isPythonMemoryError(stderr)) return { outcome: "out_of_memory", trace: trimPythonTrace(stderr) };
  const trace = trimPythonTrace(stderr);
  const how = exec.signal ? `killed by ${exec.signal}` : `exit status ${exec.exitCode}`;
  return { outcome: "exception", trace: trace || `the program ended with ${how} and printed no error` };
}

/** Python's own out-of-memory exception: the last line of the traceback is `MemoryError`. */
export function isPythonMemoryError(stderr: string): boolean {
  const lines = stderr.trimEnd().split("\n");
  return /^MemoryError\b/.test(lines[lines.length - 1] ?? "");
}

const FRAME = /^ {2}File "([^"]*)", line (\d+)(.*)$/;

/**
 * A Python traceback cut down to the candidate's code: frames in other files (the standard library, the
 * interpreter's runpy) are dropped with their source lines, and the sandbox's path of the program becomes
 * its bare file name. Everything else (the exception line, chained-exception headers, the program's own
 * stderr) stays. Bounded to the last TRACE_LIMIT characters.
 */
export function trimPythonTrace(stderr: string, programFile = PROGRAM_FILE): string {
  const out: string[] = [];
  let skippingFrame = false;
  for (const line of stderr.split("\n")) {
    const frame = FRAME.exec(line);
    if (frame) {
      const [, file, lineNo, rest] = frame;
      skippingFrame = !(file === programFile || file.endsWith(`/${programFile}`));
      if (!skippingFrame) out.push(`  File "${programFile}", line ${lineNo}${rest}`);
      continue;
    }
    // A frame's source line and its ^^^ markers are indented by four spaces.
    if (skippingFrame && line.startsWith("    ")) continue;
    skippingFrame = false;
    out.push(line);
  }
  const text = out.join("\n").trimEnd();
  return text.length > TRACE_LIMIT ? `…${text.slice(text.length - TRACE_LIMIT)}` : text;
}
