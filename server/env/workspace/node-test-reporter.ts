// A reporter for `node --test` that writes one JSON line per finished test, with its file, the
// names of its enclosing suites and what it threw. Node 20's own JUnit reporter drops the file name,
// so tests in different files with the same name could not be told apart. The module is written into
// the run's working directory and passed as `--test-reporter=./<file>`; it runs in the runner's own
// process, not in the test files' processes.

/** Version of the line format below; the parser refuses other versions. */
export const NODE_TEST_REPORT_VERSION = 1;

/**
 * Line format: {"v":1,"kind":"test","file","path":[suite names…, name],"outcome":"passed"|"failed",
 * "failureType","assertion":bool,"error":string,"durationMs"} and, for output a test file printed,
 * {"v":1,"kind":"output","file","text"} (bounded per file).
 */
export const NODE_TEST_REPORTER_SOURCE = `
import { inspect } from "node:util";
const V = ${NODE_TEST_REPORT_VERSION};
const OUTPUT_CAP = 8000;
export default async function* rlefReporter(source) {
  const open = [];
  const output = new Map();
  for await (const event of source) {
    const data = event.data ?? {};
    if (event.type === "test:start") {
      open.length = data.nesting;
      open.push({ name: data.name, hasChildren: false });
      for (const parent of open.slice(0, -1)) parent.hasChildren = true;
    } else if (event.type === "test:pass" || event.type === "test:fail") {
      open.length = Math.min(open.length, data.nesting + 1);
      const self = open[data.nesting];
      const path = [...open.slice(0, data.nesting).map((t) => t.name), data.name];
      open.length = data.nesting;
      const details = data.details ?? {};
      if (data.skip || data.todo) continue;
      const error = details.error;
      const failureType = error?.failureType ?? null;
      const isSuite = details.type === "suite" || (self && self.hasChildren);
      if (isSuite && (event.type === "test:pass" || failureType === "subtestsFailed")) continue;
      const cause = error && error.cause !== undefined ? error.cause : error;
      const assertion = Boolean(cause && typeof cause === "object" && (cause.code === "ERR_ASSERTION" || cause.name === "AssertionError"));
      let text = null;
      if (cause !== undefined && cause !== null) {
        text = typeof cause === "string" ? cause : inspect(cause, { depth: 4, colors: false });
        if (failureType === "testCodeFailure" && typeof cause === "string" && typeof error.exitCode === "number") {
          text = cause + " (the test file exited with code " + error.exitCode + ")";
        }
      }
      yield JSON.stringify({
        v: V, kind: "test", file: data.file ?? null, path,
        outcome: event.type === "test:pass" ? "passed" : "failed",
        failureType, assertion, error: text, durationMs: details.duration_ms ?? 0,
      }) + "\\n";
    } else if (event.type === "test:stderr" || event.type === "test:stdout") {
      const file = data.file ?? null;
      const text = (output.get(file) ?? "") + String(data.message ?? "");
      output.set(file, text.length > OUTPUT_CAP ? text.slice(text.length - OUTPUT_CAP) : text);
    }
  }
  for (const [file, text] of output) yield JSON.stringify({ v: V, kind: "output", file, text }) + "\\n";
}
`;
