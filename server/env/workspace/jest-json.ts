// The JSON report of jest (`--json --outputFile`) and vitest (`--reporter=json --outputFile`), which
// share one shape, to reported tests named `file > describe > test`.
import type { Outcome } from "../types";
import { MalformedReportError, toMs, type ReportContext, type ReportedTest } from "./report";
import { relativizePaths, trimTrace } from "./trace";

export type JestLikeRunner = "jest" | "vitest";

// Colour escapes jest may leave in messages even with colours off.
const ANSI = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;]*[A-Za-z]`, "g");

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === "string") ? value : undefined;
}

function failureOutcome(messages: string[]): Outcome {
  const first = messages[0] ?? "";
  // jest: `thrown: "Exceeded timeout of 5000 ms for a test.`; vitest: `Error: Test timed out in 5000ms.`
  if (/Exceeded timeout of \d+ ?ms|Test timed out in \d+ ?ms/.test(first)) return "timeout";
  if (/^(AssertionError\b|Error: expect\(|JestAssertionError\b)/.test(first) || /\[ERR_ASSERTION\]/.test(first)) return "wrong_answer";
  return "exception";
}

export function parseJestLikeJson(text: string, runner: JestLikeRunner, context: ReportContext): ReportedTest[] {
  const format = `${runner} JSON`;
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch (error) {
    throw new MalformedReportError(format, (error as Error).message);
  }
  if (!isRecord(report) || !Array.isArray(report.testResults)) {
    throw new MalformedReportError(format, "expected an object with a testResults array");
  }
  const tests: ReportedTest[] = [];
  report.testResults.forEach((suite: unknown, suiteIndex: number) => {
    if (!isRecord(suite) || typeof suite.name !== "string" || !Array.isArray(suite.assertionResults)) {
      throw new MalformedReportError(format, `testResults[${suiteIndex}] needs a string name and an assertionResults array`);
    }
    const file = relativizePaths(suite.name, context.projectRoot);
    let anyTestFailed = false;
    suite.assertionResults.forEach((assertion: unknown, i: number) => {
      const where = `testResults[${suiteIndex}].assertionResults[${i}]`;
      if (!isRecord(assertion) || typeof assertion.title !== "string" || typeof assertion.status !== "string") {
        throw new MalformedReportError(format, `${where} needs a string title and status`);
      }
      const ancestors = stringArray(assertion.ancestorTitles ?? []);
      const messages = stringArray(assertion.failureMessages ?? []);
      if (!ancestors || !messages) throw new MalformedReportError(format, `${where} has non-string titles or failure messages`);
      const name = [file, ...ancestors, assertion.title].join(" > ");
      const durationMs = toMs(assertion.duration);
      if (assertion.status === "passed") {
        tests.push({ name, outcome: "passed", durationMs });
      } else if (assertion.status === "failed") {
        anyTestFailed = true;
        const trace = messages.join("\n\n").replace(ANSI, "");
        tests.push({ name, outcome: failureOutcome(messages), trace: trimTrace(trace, context.projectRoot), durationMs });
      }
      // pending, skipped, todo, disabled: neither pass nor fail.
    });
    // A file that failed to load (syntax error, missing import) has no failing test of its own.
    if (suite.status === "failed" && !anyTestFailed) {
      const message = typeof suite.message === "string" && suite.message.trim() !== "" ? suite.message : "the test file failed to run";
      tests.push({ name: file, outcome: "exception", trace: trimTrace(message.replace(ANSI, ""), context.projectRoot), durationMs: 0 });
    }
  });
  return tests;
}
