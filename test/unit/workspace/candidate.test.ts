import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCandidate, checkTargetPath, InvalidTargetError } from "../../../server/env/workspace/candidate";

const source = "line1\nline2\nline3\nline4\n";

test("without a line range the candidate replaces the whole file", () => {
  assert.equal(applyCandidate(source, "new\n", { file: "a.py" }), "new\n");
  assert.equal(applyCandidate(null, "created\n", { file: "a.py" }), "created\n");
});

test("a line range replaces exactly those lines (1-based, inclusive), keeping the rest", () => {
  assert.equal(applyCandidate(source, "A\nB\nC", { file: "a.py", startLine: 2, endLine: 3 }), "line1\nA\nB\nC\nline4\n");
  assert.equal(applyCandidate(source, "only\n", { file: "a.py", startLine: 1, endLine: 4 }), "only\n");
  assert.equal(applyCandidate(source, "last", { file: "a.py", startLine: 4, endLine: 4 }), "line1\nline2\nline3\nlast\n");
});

test("CRLF files keep CRLF, and a file without a final newline stays without one", () => {
  assert.equal(applyCandidate("a\r\nb\r\nc\r\n", "B\n", { file: "a.py", startLine: 2, endLine: 2 }), "a\r\nB\r\nc\r\n");
  assert.equal(applyCandidate("a\nb", "B", { file: "a.py", startLine: 2, endLine: 2 }), "a\nB");
});

test("impossible line ranges are InvalidTargetErrors that say why", () => {
  const cases: Array<[number | undefined, number | undefined, RegExp]> = [
    [0, 1, /startLine must be a whole number >= 1/],
    [1.5, 2, /startLine must be a whole number/],
    [3, 2, /is empty/],
    [2, 5, /runs past the end of a\.py \(4 lines\)/],
    [2, undefined, /needs both/],
    [Number.NaN, 2, /whole number/],
  ];
  for (const [startLine, endLine, message] of cases) {
    assert.throws(
      () => applyCandidate(source, "x", { file: "a.py", startLine, endLine }),
      (error: unknown) => error instanceof InvalidTargetError && message.test(error.message),
      `${startLine}..${endLine}`,
    );
  }
  assert.throws(() => applyCandidate(null, "x", { file: "new.py", startLine: 1, endLine: 1 }), /does not exist/);
});

test("target paths must stay inside the project", () => {
  assert.equal(checkTargetPath("./src//calc.py"), "src/calc.py");
  assert.equal(checkTargetPath("src\\calc.py"), "src/calc.py");
  for (const bad of ["", "   ", "../x.py", "src/../../x.py", "/etc/passwd", "C:\\x.py", "a\0b", "."]) {
    assert.throws(() => checkTargetPath(bad), InvalidTargetError, JSON.stringify(bad));
  }
});
