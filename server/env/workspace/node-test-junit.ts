// The JUnit XML that `node --test --test-reporter=junit` writes (Node 20) to reported tests.
// Node 20's JUnit output has no file names: a test is named by its enclosing suites and its own
// name (`outer > inner > deep`); a test file that fails as a whole is named by its path.
import type { Outcome } from "../types";
import { MalformedReportError, secondsToMs, type ReportContext, type ReportedTest } from "./report";
import { relativizePaths, trimTrace } from "./trace";
import { findAll, MalformedXmlError, parseXml, type XmlElement } from "./xml";

const FORMAT = "node --test JUnit XML";

function failureOutcome(failure: XmlElement): Outcome {
  const type = failure.attributes.type ?? "";
  if (type === "testTimeoutFailure") return "timeout";
  if (/\bERR_ASSERTION\b|^\s*(cause: )?AssertionError\b/m.test(failure.text)) return "wrong_answer";
  return "exception";
}

/**
 * Node wraps every failure in an ERR_TEST_FAILURE whose `cause` is what the test threw; the
 * wrapper's own stack points into the test runner, so only the cause is worth showing.
 */
function causeOf(text: string, message: string): string {
  const at = text.indexOf("\n  cause: ");
  if (at < 0) {
    // A one-line wrapper whose cause is a plain string (a timeout, a thrown non-Error, a failed file).
    const quoted = /cause: '((?:[^'\\]|\\.)*)'/.exec(text);
    const exit = /exitCode: (\d+)/.exec(text);
    if (quoted && exit) return `${quoted[1]} (the test file exited with code ${exit[1]})`;
    if (quoted) return quoted[1];
    return text.trim() !== "" ? text : message;
  }
  const cause = text
    .slice(at + "\n  cause: ".length)
    .split("\n")
    .map((line) => line.replace(/^ {2}/, ""));
  // The wrapper object's closing brace.
  while (cause.length > 0 && /^\s*}?\s*$/.test(cause[cause.length - 1])) cause.pop();
  return cause.join("\n");
}

export function parseNodeTestJunit(xml: string, context: ReportContext): ReportedTest[] {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (error) {
    if (error instanceof MalformedXmlError) throw new MalformedReportError(FORMAT, error.message);
    throw error;
  }
  if (root.name !== "testsuites") throw new MalformedReportError(FORMAT, `root element is <${root.name}>, expected <testsuites>`);
  const tests: ReportedTest[] = [];
  for (const { element, ancestors } of findAll(root, "testcase")) {
    const own = element.attributes.name;
    if (own === undefined) throw new MalformedReportError(FORMAT, "a <testcase> has no name");
    const suites = ancestors.filter((a) => a.name === "testsuite").map((a) => a.attributes.name ?? "");
    const name = relativizePaths([...suites, own].join(" > "), context.projectRoot);
    if (element.children.some((child) => child.name === "skipped")) continue;
    const failure = element.children.find((child) => child.name === "failure" || child.name === "error");
    const durationMs = secondsToMs(element.attributes.time);
    if (!failure) {
      tests.push({ name, outcome: "passed", durationMs });
      continue;
    }
    const message = failure.attributes.message ?? element.attributes.failure ?? "";
    tests.push({
      name,
      outcome: failureOutcome(failure),
      trace: trimTrace(causeOf(failure.text, message), context.projectRoot),
      durationMs,
    });
  }
  return tests;
}
