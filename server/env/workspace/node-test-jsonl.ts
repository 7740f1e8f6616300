// The JSON lines our `node --test` reporter writes (node-test-reporter.ts) to reported tests named
// `file > suite > test`; a test file that fails as a whole is named by its path and shows its output.
import type { Outcome } from "../types";
import { NODE_TEST_REPORT_VERSION } from "./node-test-reporter";
import { MalformedReportError, toMs, type ReportContext, type ReportedTest } from "./report";
import { relativizePaths, trimTrace } from "./trace";

const FORMAT = "node --test JSON lines";
const FILE_FAILED = "(the test file exited with code";

interface TestLine {
  kind: "test";
  file: string | null;
  path: string[];
  outcome: "passed" | "failed";
  failureType: string | null;
  assertion: boolean;
  error: string | null;
  durationMs: number;
}

interface OutputLine {
  kind: "output";
  file: string | null;
  text: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkLine(value: unknown, lineNumber: number): TestLine | OutputLine {
  const bad = (what: string): never => {
    throw new MalformedReportError(FORMAT, `line ${lineNumber}: ${what}`);
  };
  if (!isRecord(value)) return bad("not a JSON object");
  if (value.v !== NODE_TEST_REPORT_VERSION) return bad(`format version ${JSON.stringify(value.v)}, expected ${NODE_TEST_REPORT_VERSION}`);
  if (value.file !== null && typeof value.file !== "string") return bad("file must be a string or null");
  if (value.kind === "output") {
    if (typeof value.text !== "string") return bad("output text must be a string");
    return value as unknown as OutputLine;
  }
  if (value.kind !== "test") return bad(`unknown kind ${JSON.stringify(value.kind)}`);
  if (!Array.isArray(value.path) || value.path.length === 0 || !value.path.every((p) => typeof p === "string")) {
    return bad("path must be a non-empty list of names");
  }
  if (value.outcome !== "passed" && value.outcome !== "failed") return bad(`outcome ${JSON.stringify(value.outcome)}`);
  if (value.error !== null && typeof value.error !== "string") return bad("error must be a string or null");
  if (value.failureType !== null && typeof value.failureType !== "string") return bad("failureType must be a string or null");
  return value as unknown as TestLine;
}

function outcomeOf(line: TestLine): Outcome {
  if (line.outcome === "passed") return "passed";
  if (line.failureType === "testTimeoutFailure") return "timeout";
  return line.assertion ? "wrong_answer" : "exception";
}

export function parseNodeTestJsonLines(text: string, context: ReportContext): ReportedTest[] {
  const tests: Array<ReportedTest & { file: string | null }> = [];
  const output = new Map<string | null, string>();
  const lines = text.split("\n");
  // The reporter writes as tests finish; a run stopped mid-write leaves a cut last line, which says nothing.
  if (!text.endsWith("\n")) lines.pop();
  lines.forEach((raw, index) => {
    if (raw.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      throw new MalformedReportError(FORMAT, `line ${index + 1}: ${(error as Error).message}`);
    }
    const line = checkLine(parsed, index + 1);
    if (line.kind === "output") {
      output.set(line.file, line.text);
      return;
    }
    const file = line.file === null ? null : relativizePaths(line.file, context.projectRoot);
    const names = line.path.map((name) => relativizePaths(name, context.projectRoot));
    // A file that fails as a whole is reported as a test named by the file's own path.
    const name = [...(file !== null && names[0] !== file ? [file] : []), ...names].join(" > ");
    const outcome = outcomeOf(line);
    const trace = line.error === null ? undefined : trimTrace(line.error, context.projectRoot);
    tests.push({ name, outcome, durationMs: toMs(line.durationMs), file: line.file, ...(trace !== undefined ? { trace } : {}) });
  });
  return tests.map(({ file, ...test }) => {
    const printed = output.get(file);
    if (test.trace?.includes(FILE_FAILED) && printed !== undefined && printed.trim() !== "") {
      return { ...test, trace: `${test.trace}\n${trimTrace(printed, context.projectRoot)}` };
    }
    return test;
  });
}
