// pytest's JUnit XML report (run with `-o junit_family=xunit1`, which records each test's file) to
// reported tests named by pytest node id, e.g. `tests/test_calc.py::AddTests::test_add_negative`.
import type { Outcome } from "../types";
import { MalformedReportError, secondsToMs, type ReportContext, type ReportedTest } from "./report";
import { trimTrace } from "./trace";
import { findAll, MalformedXmlError, parseXml, type XmlElement } from "./xml";

const FORMAT = "pytest JUnit XML";

/** `tests/test_calc.py` + `tests.test_calc_unittest.AddTests` → `tests/test_calc.py::AddTests`. */
function nodeIdOf(testcase: XmlElement): string {
  const { classname = "", name = "", file } = testcase.attributes;
  if (!file) return [classname, name].filter((part) => part !== "").join("::");
  const module = file.replace(/\.py$/, "").replace(/\//g, ".");
  // A collection error is reported with an empty classname and the module as its name.
  if (classname === "" && name === module) return file;
  const classPart = classname.startsWith(module + ".") ? classname.slice(module.length + 1).split(".") : [];
  return [file, ...classPart, name].join("::");
}

function failureOutcome(kind: "failure" | "error", message: string): Outcome {
  // pytest-timeout reports "Failed: Timeout >Ns".
  if (/^Failed: Timeout\b/.test(message)) return "timeout";
  if (/^(MemoryError)\b/.test(message)) return "out_of_memory";
  if (kind === "failure" && /^(assert\b|AssertionError\b|Failed: DID NOT RAISE\b)/.test(message)) return "wrong_answer";
  return "exception";
}

export function parsePytestJunit(xml: string, context: ReportContext): ReportedTest[] {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (error) {
    if (error instanceof MalformedXmlError) throw new MalformedReportError(FORMAT, error.message);
    throw error;
  }
  if (root.name !== "testsuites" && root.name !== "testsuite") {
    throw new MalformedReportError(FORMAT, `root element is <${root.name}>, expected <testsuites> or <testsuite>`);
  }
  const tests: ReportedTest[] = [];
  for (const { element } of findAll(root, "testcase")) {
    const name = nodeIdOf(element);
    if (name === "") throw new MalformedReportError(FORMAT, "a <testcase> has neither classname nor name");
    if (element.children.some((child) => child.name === "skipped")) continue;
    const problem = element.children.find((child) => child.name === "failure" || child.name === "error");
    const durationMs = secondsToMs(element.attributes.time);
    if (!problem) {
      tests.push({ name, outcome: "passed", durationMs });
      continue;
    }
    const message = problem.attributes.message ?? "";
    const detail = problem.text.trim() !== "" ? problem.text : message;
    tests.push({
      name,
      outcome: failureOutcome(problem.name as "failure" | "error", message),
      trace: trimTrace(detail, context.projectRoot),
      durationMs,
    });
  }
  return tests;
}
