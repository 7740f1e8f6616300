// Function-level Python tasks: one sandboxed process per run holding a harness that runs each case on its own.
import type { FunctionTask, FunctionTestCase, RunReport, TestResult, Visibility } from "../types";
import type { RunOptions } from "./options";
import { expectedOutputs, ReferenceFailure } from "./python-expected";
import { runHarness, type HarnessCase } from "./python-harness-run";
import { renderCall } from "./python-values";

/** All processes of one run together, on top of the per-case limits (multiplied like them). */
const RUN_BUDGET_MS = 120_000;

interface SelectedCase {
  visibility: Visibility;
  index: number;
  test: FunctionTestCase;
}

function describeInput(task: FunctionTask, test: FunctionTestCase): string {
  return test.kind === "call" ? renderCall(task.entryPoint, test.argsJson) : test.code;
}

export async function runPythonFunctionTests(task: FunctionTask, code: string, opts: RunOptions): Promise<RunReport> {
  const multiplier = opts.timeMultiplier ?? 1;
  if (!(multiplier > 0)) throw new Error(`timeMultiplier must be positive, got ${multiplier}`);
  const caseTimeMs = task.limits.timeMs * multiplier;
  const selected: SelectedCase[] = [
    ...task.publicTests.map((test, index) => ({ visibility: "public" as const, index, test })),
    ...(opts.which === "all" ? task.privateTests.map((test, index) => ({ visibility: "private" as const, index, test })) : []),
  ];
  const report = (results: TestResult[], error?: string): RunReport => ({
    taskId: task.id,
    results,
    passed: !error && results.length > 0 && results.every((r) => r.outcome === "passed"),
    isolation: opts.sandbox.isolation,
    ...(error ? { error } : {}),
  });
  if (selected.length === 0) return report([], `${task.id} has no ${opts.which === "public" ? "public " : ""}tests`);

  // Differential cases get their expected values from the reference, in a separate process.
  const missing = selected.filter((s) => s.test.kind === "call" && s.test.expectedJson === undefined);
  let expected: string[] = [];
  try {
    expected = await expectedOutputs(
      task,
      missing.map((s) => (s.test.kind === "call" ? s.test.argsJson : "")),
      opts.sandbox,
      caseTimeMs,
      opts.signal,
    );
  } catch (e) {
    if (e instanceof ReferenceFailure) return report([], e.message);
    throw e;
  }
  const expectedFor = new Map(missing.map((s, i) => [s, expected[i]]));

  const cases: HarnessCase[] = selected.map((s, index) =>
    s.test.kind === "call"
      ? { index, kind: "call", argsJson: s.test.argsJson, expectedJson: s.test.expectedJson ?? expectedFor.get(s) }
      : { index, kind: s.test.kind, code: s.test.code },
  );
  const { results, isolation } = await runHarness(
    opts.sandbox,
    {
      mode: "judge",
      prelude: task.candidatePrelude,
      candidate: code,
      preamble: task.testPreamble,
      entryPoint: task.entryPoint,
      comparison: task.comparison,
      stopAtFirstFailure: opts.stopAtFirstFailure === true,
    },
    cases,
    { caseTimeMs, memoryBytes: task.limits.memoryBytes, budgetMs: RUN_BUDGET_MS * multiplier },
    opts.signal,
  );
  const testResults: TestResult[] = results.map((r) => {
    const s = selected[r.index];
    return {
      index: s.index,
      visibility: s.visibility,
      outcome: r.outcome,
      input: r.input ?? describeInput(task, s.test),
      ...(r.expected !== undefined ? { expected: r.expected } : {}),
      ...(r.actual !== undefined ? { actual: r.actual } : {}),
      ...(r.trace !== undefined && r.outcome !== "passed" ? { trace: r.trace } : {}),
      durationMs: r.durationMs,
    };
  });
  return { ...report(testResults), isolation };
}
