// Function-level JavaScript/TypeScript tasks under Node. One sandboxed process per run holds a harness
// (harness/js-function-harness.js) that evaluates the program, then each case on its own with a per-case time
// limit. TypeScript is compiled with the `typescript` package's transpileModule: types are erased, not checked
// (MultiPL-E's TS tests are run the same way by its own harness's type-stripping runners), so a type error
// alone does not fail a test; a syntax error does, reported as the run's error.
// Tasks with Jest spec files (Exercism) run Jest itself, inside the sandbox, with the repository's node_modules
// mounted read-only.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import ts from "typescript";
import type { ExecResult } from "../sandbox/types";
import type { FunctionTask, FunctionTestCase, Outcome, RunReport, TestResult, Visibility } from "../types";
import type { RunOptions } from "./options";

const HARNESS_FILE = "harness.js";
let harnessSource: string | undefined;
/** Read on first use: beside this file in the sources, in dist/harness in the bundle (scripts/build.mjs copies it). */
function harness(): string {
  harnessSource ??= readFileSync(join(__dirname, "harness", "js-function-harness.js"), "utf8");
  return harnessSource;
}
/** Added to the overall cap for Node's own start and the program's evaluation. */
const STARTUP_ALLOWANCE_MS = 10_000;
const OVERALL_CAP_MS = 10 * 60_000;
const TRACE_LIMIT = 8 * 1024;

interface CaseToRun {
  visibility: Visibility;
  index: number;
  test: FunctionTestCase;
  code: string;
}

interface HarnessRecord {
  phase: "program" | "start" | "case";
  index?: number;
  kind: "ok" | "passed" | "assertion" | "exception" | "timeout";
  message?: string;
  stack?: string;
  actual?: string;
  expected?: string;
}

export async function runJsFunctionTests(task: FunctionTask, code: string, opts: RunOptions): Promise<RunReport> {
  if (task.language === "python") throw new Error(`runJsFunctionTests: task ${task.id} is Python`);
  if (task.testFiles && Object.keys(task.testFiles).length > 0) return runJestTests(task, code, opts);
  const multiplier = opts.timeMultiplier ?? 1;
  if (!(multiplier > 0)) throw new Error(`timeMultiplier must be positive, got ${multiplier}`);
  const cases: CaseToRun[] = task.publicTests.map((test, index) => ({ visibility: "public", index, test, code: caseCode(task, test) }));
  if (opts.which === "all") {
    cases.push(...task.privateTests.map((test, index): CaseToRun => ({ visibility: "private", index, test, code: caseCode(task, test) })));
  }
  const report: RunReport = { taskId: task.id, results: [], passed: false, isolation: opts.sandbox.isolation };
  if (cases.length === 0) {
    report.error = `task ${task.id} has no ${opts.which === "public" ? "public " : ""}tests to run`;
    return report;
  }

  const programFile = task.language === "typescript" ? "solution.ts" : "solution.js";
  let program = code;
  let caseSources = cases.map((c) => c.code);
  let preamble = task.testPreamble ?? "";
  if (task.language === "typescript") {
    const compiled = transpileTypeScript(code, programFile);
    if ("error" in compiled) {
      report.error = `TypeScript compile failed:\n${compiled.error}`;
      report.results = cases.map((c) => resultFor(c, "exception", { trace: report.error }));
      return report;
    }
    program = compiled.js;
    // The tests are the dataset's, and transpile without error; a failure here is a task bug, not the candidate's.
    caseSources = caseSources.map((source, i) => transpileOrThrow(source, `test-${i + 1}.ts`));
    preamble = preamble ? transpileOrThrow(preamble, "preamble.ts") : "";
  }

  const caseMs = Math.ceil(task.limits.timeMs * multiplier);
  const exec = await opts.sandbox.exec({
    argv: ["node", `--max-old-space-size=${Math.floor(task.limits.memoryBytes / 1024 ** 2)}`, "--stack-size=4096", HARNESS_FILE],
    files: {
      [HARNESS_FILE]: harness(),
      "payload.json": JSON.stringify({ preamble, program, programFile: programFile.replace(/\.ts$/, ".js"), cases: caseSources, caseTimeoutMs: caseMs, stopAtFirstFailure: opts.stopAtFirstFailure === true }),
    },
    collect: ["results.jsonl"],
    limits: {
      wallMs: Math.min(OVERALL_CAP_MS, caseMs * (cases.length + 1) + STARTUP_ALLOWANCE_MS * multiplier),
      memoryBytes: task.limits.memoryBytes,
    },
    signal: opts.signal,
  });
  if (exec.termination === "cancelled") throw new Error(`run of ${task.id} was cancelled`);
  report.results = interpretHarness(cases, exec);
  if (opts.stopAtFirstFailure) {
    // The harness stopped at the first failure: the cases after it did not run and are not reported.
    const firstFailure = report.results.findIndex((r) => r.outcome !== "passed");
    if (firstFailure >= 0) report.results = report.results.slice(0, firstFailure + 1);
  }
  report.passed = report.results.every((r) => r.outcome === "passed");
  const programFailure = parseRecords(exec).find((r) => r.phase === "program" && r.kind !== "ok");
  if (programFailure) report.error = `the program failed before the tests: ${programFailure.message ?? programFailure.kind}`;
  return report;
}

function caseCode(task: FunctionTask, test: FunctionTestCase): string {
  if (test.kind === "call") throw new Error(`task ${task.id}: "call" cases are not supported for ${task.language} tasks`);
  return test.code;
}

function transpileTypeScript(source: string, fileName: string): { js: string } | { error: string } {
  const out = ts.transpileModule(source, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, sourceMap: false },
  });
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length === 0) return { js: out.outputText };
  return {
    error: errors
      .map((d) => {
        const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
        const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
        return where ? `${fileName}:${where.line + 1}:${where.character + 1}: ${text}` : text;
      })
      .join("\n"),
  };
}

function transpileOrThrow(source: string, fileName: string): string {
  const out = transpileTypeScript(source, fileName);
  if ("error" in out) throw new Error(`test code does not compile:\n${out.error}`);
  return out.js;
}

function parseRecords(exec: ExecResult): HarnessRecord[] {
  const text = exec.collected["results.jsonl"]?.toString("utf8") ?? "";
  const records: HarnessRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      records.push(JSON.parse(line) as HarnessRecord);
    } catch {
      // The last line can be cut when the process is killed while writing it: that case counts as unfinished.
    }
  }
  return records;
}

function resultFor(c: CaseToRun, outcome: Outcome, extra: Partial<TestResult> = {}): TestResult {
  return { index: c.index, visibility: c.visibility, outcome, input: c.test.kind === "call" ? c.test.argsJson : c.test.code, durationMs: 0, ...extra };
}

/** Stack frames of the harness and of Node itself say nothing about the candidate's code. */
export function trimJsTrace(text: string): string {
  const kept = text
    .split("\n")
    .filter((line) => !/^\s+at /.test(line) || /\((solution|preamble|test-\d+|main)\.js:\d+:\d+\)|at (solution|preamble|test-\d+|main)\.js:\d+/.test(line))
    .join("\n")
    .trimEnd();
  return kept.length > TRACE_LIMIT ? `${kept.slice(0, TRACE_LIMIT)}…` : kept;
}

/** What killed the process, as an outcome for the case that was running. */
function deathOutcome(exec: ExecResult): Outcome {
  const stderr = exec.stderr.toString("utf8");
  if (exec.termination === "timeout") return "timeout";
  if (exec.termination === "memory" || /JavaScript heap out of memory|Allocation failed/.test(stderr)) return "out_of_memory";
  return "exception";
}

function interpretHarness(cases: CaseToRun[], exec: ExecResult): TestResult[] {
  const records = parseRecords(exec);
  const program = records.find((r) => r.phase === "program");
  const stderr = exec.stderr.toString("utf8");
  if (!program || program.kind !== "ok") {
    // The program itself failed (or the process died while evaluating it): every case fails the same way.
    const outcome: Outcome = program ? (program.kind === "timeout" ? "timeout" : "exception") : deathOutcome(exec);
    const trace = program ? trimJsTrace(program.stack ?? program.message ?? "") : trimJsTrace(stderr) || `the process ended (${exec.termination}) before the program loaded`;
    return cases.map((c) => resultFor(c, outcome, { trace }));
  }
  const finished = new Map<number, HarnessRecord>();
  let started = -1;
  for (const r of records) {
    if (r.phase === "case" && r.index !== undefined) finished.set(r.index, r);
    if (r.phase === "start" && r.index !== undefined) started = r.index;
  }
  return cases.map((c, i) => {
    const r = finished.get(i);
    if (!r) {
      if (i === started) return resultFor(c, deathOutcome(exec), { trace: trimJsTrace(stderr) || `the process was stopped (${exec.termination})` });
      return resultFor(c, deathOutcome(exec), { trace: `not run: the process ended during test ${started + 1}` });
    }
    switch (r.kind) {
      case "passed":
        return resultFor(c, "passed");
      case "timeout":
        return resultFor(c, "timeout");
      case "assertion": {
        const extra: Partial<TestResult> = { trace: trimJsTrace(r.stack ?? r.message ?? "assertion failed") };
        if (r.expected !== undefined) extra.expected = r.expected;
        if (r.actual !== undefined) extra.actual = r.actual;
        return resultFor(c, "wrong_answer", extra);
      }
      default: {
        const message = r.message ?? "";
        const outcome: Outcome = /Array buffer allocation failed/.test(message) ? "out_of_memory" : "exception";
        return resultFor(c, outcome, { trace: trimJsTrace(r.stack ?? message) });
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Jest (Exercism): the spec files, the solution and the fixtures in one folder; Babel for the ES-module specs.

/** Where the host's node_modules appears in the sandbox: an ancestor of the working folder, so Node finds it. */
const SANDBOX_NODE_MODULES = "/node_modules";
const JEST_REPORT = "jest-report.json";
/** Jest starts slowly on a loaded machine; one endless test stops the whole suite at this cap. */
const JEST_CAP_MS = 60_000;
/** Terminal colour codes (ESC [ … m), in case a reporter colours despite NO_COLOR. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

function hostNodeModules(): string {
  // .../node_modules/jest/package.json → .../node_modules
  return dirname(dirname(require.resolve("jest/package.json")));
}

const BABEL_CONFIG = `module.exports = { presets: [[${JSON.stringify(`${SANDBOX_NODE_MODULES}/@babel/preset-env`)}, { targets: { node: "current" } }]] };\n`;

interface JestAssertion {
  fullName: string;
  status: string;
  failureMessages?: string[];
  failureDetails?: { matcherResult?: { expected?: unknown; actual?: unknown } }[];
  duration?: number | null;
}

interface JestReport {
  testResults: { name: string; status: string; message?: string; assertionResults: JestAssertion[] }[];
}

/** Exercism skips every test but the first with `xtest`; the benchmark un-skips them all. */
export function unskipExercismSpec(spec: string): string {
  return spec.replace(/\bxtest\(/g, "test(").replace(/\bxit\(/g, "it(");
}

function trimJestMessage(message: string): string {
  const kept = message
    .replace(ANSI, "")
    .split("\n")
    .filter((line) => !/^\s+at /.test(line) || (!line.includes("node_modules") && !line.includes("node:")))
    .join("\n")
    .trimEnd();
  return kept.length > TRACE_LIMIT ? `${kept.slice(0, TRACE_LIMIT)}…` : kept;
}

function showJestValue(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
}

export async function runJestTests(task: FunctionTask, code: string, opts: RunOptions): Promise<RunReport> {
  const multiplier = opts.timeMultiplier ?? 1;
  if (!(multiplier > 0)) throw new Error(`timeMultiplier must be positive, got ${multiplier}`);
  if (!task.solutionFile) throw new Error(`task ${task.id} has Jest specs but no solutionFile`);
  const specs = task.testFiles ?? {};
  const files: Record<string, string> = { ...(task.supportFiles ?? {}), "babel.config.js": BABEL_CONFIG };
  for (const [name, spec] of Object.entries(specs)) files[name] = spec;
  files[task.solutionFile] = code;
  const config = {
    rootDir: ".",
    testEnvironment: "node",
    transform: { "\\.[jt]sx?$": `${SANDBOX_NODE_MODULES}/babel-jest` },
    testMatch: Object.keys(specs).map((name) => `<rootDir>/${name}`),
  };
  const exec = await opts.sandbox.exec({
    argv: [
      "node",
      `${SANDBOX_NODE_MODULES}/jest/bin/jest.js`,
      "--ci",
      "--runInBand",
      "--no-cache",
      "--watchman=false",
      `--testTimeout=${Math.ceil(task.limits.timeMs * multiplier)}`,
      `--config=${JSON.stringify(config)}`,
      "--json",
      `--outputFile=${JEST_REPORT}`,
    ],
    files,
    readOnly: [{ host: hostNodeModules(), sandbox: SANDBOX_NODE_MODULES }],
    env: { NO_COLOR: "1", FORCE_COLOR: "0", CI: "1" },
    collect: [JEST_REPORT],
    limits: { wallMs: Math.ceil(JEST_CAP_MS * multiplier), memoryBytes: task.limits.memoryBytes, maxProcesses: 256 },
    signal: opts.signal,
  });
  if (exec.termination === "cancelled") throw new Error(`run of ${task.id} was cancelled`);
  const report: RunReport = { taskId: task.id, results: [], passed: false, isolation: opts.sandbox.isolation };
  const raw = exec.collected[JEST_REPORT]?.toString("utf8");
  if (raw === undefined) {
    // No report: Jest itself was stopped (an endless test, memory) or could not start.
    const outcome = deathOutcome(exec);
    const trace = trimJestMessage(exec.stderr.toString("utf8")) || `jest ended (${exec.termination}) without a report`;
    report.results = Object.keys(specs).map((name, index) => ({ index, visibility: "public", outcome, input: name, name, trace, durationMs: exec.wallMs }));
    report.error = outcome === "exception" ? `jest did not produce a report:\n${trace}` : undefined;
    if (report.error === undefined) delete report.error;
    return report;
  }
  let parsed: JestReport;
  try {
    parsed = JSON.parse(raw) as JestReport;
  } catch (e) {
    throw new Error(`jest wrote an unreadable report for ${task.id}: ${(e as Error).message}`);
  }
  for (const suite of parsed.testResults) {
    const suiteName = suite.name.replace(/^.*\//, "");
    if (suite.assertionResults.length === 0 && suite.status === "failed") {
      // The suite failed to run: a syntax error in the solution, a missing export.
      report.results.push({ index: report.results.length, visibility: "public", outcome: "exception", input: suiteName, name: suiteName, trace: trimJestMessage(suite.message ?? ""), durationMs: 0 });
      continue;
    }
    for (const a of suite.assertionResults) {
      if (a.status !== "passed" && a.status !== "failed") continue; // skipped on purpose by the spec, or todo
      const result: TestResult = { index: report.results.length, visibility: "public", outcome: "passed", input: a.fullName, name: a.fullName, durationMs: a.duration ?? 0 };
      if (a.status === "failed") {
        const message = trimJestMessage((a.failureMessages ?? []).join("\n"));
        const matcher = a.failureDetails?.find((d) => d && typeof d === "object" && d.matcherResult)?.matcherResult;
        result.trace = message;
        if (/Exceeded timeout of/.test(message)) result.outcome = "timeout";
        else if (matcher) {
          result.outcome = "wrong_answer";
          if ("expected" in matcher) result.expected = showJestValue(matcher.expected);
          if ("actual" in matcher) result.actual = showJestValue(matcher.actual);
        } else result.outcome = "exception";
      }
      report.results.push(result);
    }
  }
  report.passed = report.results.length > 0 && report.results.every((r) => r.outcome === "passed");
  if (report.results.length === 0) report.error = "jest ran no tests";
  return report;
}
