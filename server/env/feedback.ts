// Execution feedback: the text of the user message that follows a failed attempt. This file holds the
// only function that builds it (formatFeedback), so the editor, the evaluation and the trainer show the
// model byte-for-byte the same words. Structure from spec/rlef.md §2; every field is cut by truncate.ts.
import { formatInstruction } from "./prompts";
import { FIELD_LIMITS, TRACE_LIMITS, truncateText } from "./truncate";
import type { RunReport, Task, TestResult } from "./types";

/** At most this many failing tests are described; the rest are counted in one marker line. */
export const MAX_FAILING_ITEMS = 20;
/** Function-level tasks also list passing asserts, at most this many. */
export const MAX_PASSING_ITEMS = 20;

export type FeedbackSource =
  /** The public-test run of the attempt's code (it must have failed). */
  | { kind: "run"; report: RunReport }
  /** The response had no extractable code block. */
  | { kind: "invalid-response" };

export function formatFeedback(task: Task, source: FeedbackSource): string {
  const retry = `Give it another try. ${formatInstruction(task)}`;
  if (source.kind === "invalid-response") {
    return `Your response did not contain a code block I could run.\n\n${retry}`;
  }
  const report = source.report;
  if (report.error !== undefined) {
    return `Your code could not be run:\n${truncateText(report.error, TRACE_LIMITS)}\n\n${retry}`;
  }
  const failing = report.results.filter((r) => r.outcome !== "passed");
  if (failing.length === 0) {
    throw new Error(`formatFeedback: the run of task ${report.taskId} has no failing test; there is nothing to report`);
  }
  const sections: string[] = [];
  if (task.kind === "function") {
    sections.push("Your code was run on the following tests and failed some of them:");
    const shown = report.results.filter((r) => r.outcome !== "passed").slice(0, MAX_FAILING_ITEMS);
    const passingShown = report.results.filter((r) => r.outcome === "passed").slice(0, MAX_PASSING_ITEMS);
    const listed = new Set([...shown, ...passingShown]);
    for (const r of report.results) if (listed.has(r)) sections.push(functionItem(r, task));
    const hiddenFailing = failing.length - shown.length;
    const hiddenPassing = report.results.length - failing.length - passingShown.length;
    if (hiddenFailing > 0) sections.push(`[… ${hiddenFailing} more failing tests not shown …]`);
    if (hiddenPassing > 0) sections.push(`[… ${hiddenPassing} more passing tests not shown …]`);
  } else {
    sections.push(
      report.fallback
        ? "Your code failed the tests. The test command has no machine-readable report, so only its exit status and the end of its output are shown:"
        : "Your code failed the following tests:",
    );
    const shown = failing.slice(0, MAX_FAILING_ITEMS);
    for (const r of shown) sections.push(task.kind === "stdio" ? stdioItem(r, task) : workspaceItem(r, task));
    if (failing.length > shown.length) sections.push(`[… ${failing.length - shown.length} more failing tests not shown …]`);
  }
  sections.push(retry);
  return sections.join("\n\n");
}

const OUTCOME_WORDS: Record<TestResult["outcome"], string> = {
  passed: "passed",
  wrong_answer: "wrong answer",
  exception: "exception",
  timeout: "timeout",
  out_of_memory: "out of memory",
};

function stdioItem(r: TestResult, task: Task): string {
  const lines = [`Test ${r.index + 1}: ${OUTCOME_WORDS[r.outcome]}`, "Input:", field(r.input, "(empty)")];
  lines.push(...failureDetail(r, task, "Expected output:", "Your output:"));
  return lines.join("\n");
}

function functionItem(r: TestResult, task: Task): string {
  const lines = [`Test ${r.index + 1}: ${OUTCOME_WORDS[r.outcome]}`, field(r.input, "(empty)")];
  if (r.outcome !== "passed") lines.push(...failureDetail(r, task, "Expected:", "Actual:"));
  return lines.join("\n");
}

function workspaceItem(r: TestResult, task: Task): string {
  const name = r.name ?? `#${r.index + 1}`;
  const lines = [`Test ${name}: ${OUTCOME_WORDS[r.outcome]}`];
  if (r.outcome === "wrong_answer" && r.expected === undefined && r.actual === undefined) {
    if (r.trace !== undefined) lines.push(truncateText(r.trace, TRACE_LIMITS));
  } else {
    lines.push(...failureDetail(r, task, "Expected:", "Actual:"));
  }
  return lines.join("\n");
}

function failureDetail(r: TestResult, task: Task, expectedLabel: string, actualLabel: string): string[] {
  switch (r.outcome) {
    case "passed":
      return [];
    case "wrong_answer": {
      const out: string[] = [];
      if (r.expected !== undefined) out.push(expectedLabel, field(r.expected, "(empty)"));
      // stdio: empty output is itself the answer; elsewhere a missing value means the runner had none to show.
      if (task.kind === "stdio" || r.actual !== undefined) out.push(actualLabel, field(r.actual ?? "", "(no output)"));
      if (r.outputTruncated) out.push("(the output was cut at the output size limit)");
      // The judge's own note (e.g. "token 1: expected 4, got 3") is not part of a stdio item (spec/rlef.md §2);
      // for function and workspace tests the trace is the assertion's message, which is.
      if (task.kind !== "stdio" && r.trace !== undefined && r.trace !== "") out.push("Details:", truncateText(r.trace, TRACE_LIMITS));
      return out;
    }
    case "exception":
      return ["Error:", field(r.trace ?? "", "(no error message)", TRACE_LIMITS)];
    case "timeout":
      return [`Execution took too long (the time limit is ${formatSeconds(task.limits.timeMs)}).`];
    case "out_of_memory":
      return [`Execution ran out of memory (the limit is ${formatMiB(task.limits.memoryBytes)}).`];
  }
}

// Trailing newlines are dropped (every program prints one); other whitespace is shown as it is.
function field(text: string, whenEmpty: string, limits = FIELD_LIMITS): string {
  const trimmed = text.replace(/[\r\n]+$/, "");
  return trimmed === "" ? whenEmpty : truncateText(trimmed, limits);
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} ${s === 1 ? "second" : "seconds"}`;
}

function formatMiB(bytes: number): string {
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}
