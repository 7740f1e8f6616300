// stdin/stdout tasks: one sandboxed process per test input, judged by the task's checker.
// Python programs run as main.py; JavaScript as main.js under Node; TypeScript is transpiled (types erased,
// not checked, as for function tasks) and runs as main.js.
import ts from "typescript";
import { judgeOutput } from "../judge";
import type { ExecResult } from "../sandbox/types";
import type { Language, Outcome, RunReport, StdioTask, StdioTest, TestResult, Visibility } from "../types";
import { trimJsTrace } from "./js-function";
import type { RunOptions } from "./options";

/** The candidate's file name inside the sandbox; traces name it and nothing else of the sandbox. */
export const PROGRAM_FILE = "main.py";
const JS_PROGRAM_FILE = "main.js";

interface Program {
  language: Language;
  argv: string[];
  files: Record<string, string>;
  env: Record<string, string>;
}

/** How a candidate runs, or the compile error when TypeScript does not parse. */
function programFor(language: Language, code: string, memoryBytes: number): Program | { error: string } {
  if (language === "python") {
    return { language, argv: ["python3", "-B", PROGRAM_FILE], files: { [PROGRAM_FILE]: code }, env: { PYTHONHASHSEED: "0", PYTHONIOENCODING: "utf-8" } };
  }
  let js = code;
  if (language === "typescript") {
    const out = ts.transpileModule(code, { fileName: "main.ts", reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS } });
    const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length > 0) return { error: errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")).join("\n") };
    js = out.outputText;
  }
  const heapMiB = Math.floor(memoryBytes / 1024 ** 2);
  return { language, argv: ["node", `--max-old-space-size=${heapMiB}`, JS_PROGRAM_FILE], files: { [JS_PROGRAM_FILE]: js }, env: {} };
}

/** Output kept per test: enough for any expected output, bounded so a runaway printer cannot exhaust memory. */
const MIN_OUTPUT_CAP = 1024 * 1024;
/** Most stderr kept as a trace, from its end (where the exception is). */
const TRACE_LIMIT = 16 * 1024;

export async function runStdioTests(task: StdioTask, code: string, opts: RunOptions): Promise<RunReport> {
  const multiplier = opts.timeMultiplier ?? 1;
  if (!(multiplier > 0)) throw new Error(`timeMultiplier must be positive, got ${multiplier}`);
  const program = programFor(task.language, code, task.limits.memoryBytes);
  const groups: [Visibility, StdioTest[]][] = [["public", task.publicTests]];
  if (opts.which === "all") groups.push(["private", task.privateTests]);
  const results: TestResult[] = [];
  if ("error" in program) {
    const trace = `TypeScript compile failed:\n${program.error}`;
    for (const [visibility, tests] of groups) {
      tests.forEach((t, index) => results.push({ index, visibility, outcome: "exception", input: t.input, expected: t.output, trace, durationMs: 0 }));
    }
    return { taskId: task.id, results, passed: false, isolation: opts.sandbox.isolation, error: trace };
  }
  for (const [visibility, tests] of groups) {
    for (let index = 0; index < tests.length; index++) {
      opts.signal?.throwIfAborted();
      const result = await runOneTest(task, program, tests[index], index, visibility, multiplier, opts);
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
  program: Program,
  test: StdioTest,
  index: number,
  visibility: Visibility,
  multiplier: number,
  opts: RunOptions,
): Promise<TestResult> {
  const wallMs = Math.ceil(task.limits.timeMs * multiplier);
  const exec = await opts.sandbox.exec({
    argv: program.argv,
    files: program.files,
    stdin: test.input,
    env: program.env,
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
  const failure = processFailure(exec, program.language);
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
export function processFailure(exec: ExecResult, language: Language = "python"): { outcome: Outcome; trace?: string } | null {
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
  if (language === "python" && isPythonMemoryError(stderr)) return { outcome: "out_of_memory", trace: trimPythonTrace(stderr) };
  if (language !== "python" && /JavaScript heap out of memory/.test(stderr)) return { outcome: "out_of_memory" };
  const trace = language === "python" ? trimPythonTrace(stderr) : trimJsTrace(stderr.replaceAll("/work/main.js", "main.js"));
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
