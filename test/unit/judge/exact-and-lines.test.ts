import { test } from "node:test";
import assert from "node:assert/strict";
import { judgeOutput } from "../../../server/env/judge";
import type { OutputChecker } from "../../../server/env/types";

const exact: OutputChecker = { mode: "exact" };
const lines: OutputChecker = { mode: "lines" };

test("exact accepts only the identical text", () => {
  assert.equal(judgeOutput("1 2\n", "1 2\n", exact).passed, true);
  assert.equal(judgeOutput("1 2\n", "1 2", exact).passed, false);
  assert.equal(judgeOutput("1 2\n", "1  2\n", exact).passed, false);
  assert.equal(judgeOutput("1\n", "1\r\n", exact).passed, false);
  assert.equal(judgeOutput("0.5", "0.50", exact).passed, false);
});

test("exact reports the first differing character", () => {
  const v = judgeOutput("abcdef", "abXdef", exact);
  assert.equal(v.passed, false);
  assert.match(v.mismatch ?? "", /character 3/);
});

test("lines ignores trailing whitespace on each line and trailing blank lines", () => {
  assert.equal(judgeOutput("a b\nc\n", "a b  \nc\t\n\n\n", lines).passed, true);
  assert.equal(judgeOutput("a b\nc\n", "a b\r\nc\r\n", lines).passed, true);
  assert.equal(judgeOutput("a b\nc", "a b\nc\n", lines).passed, true);
});

test("lines keeps leading whitespace, inner spacing, blank lines in between and numbers as text", () => {
  assert.equal(judgeOutput("a b", " a b", lines).passed, false);
  assert.equal(judgeOutput("a b", "a  b", lines).passed, false);
  assert.equal(judgeOutput("a\nb", "a\n\nb", lines).passed, false);
  assert.equal(judgeOutput("0.5", "0.50", lines).passed, false);
  assert.equal(judgeOutput("a\nb", "a b", lines).passed, false);
});

test("lines reports missing and extra lines", () => {
  assert.match(judgeOutput("a\nb", "a", lines).mismatch ?? "", /ended after 1 lines/);
  assert.match(judgeOutput("a", "a\nb", lines).mismatch ?? "", /line 2/);
  assert.match(judgeOutput("a\nb", "a\nc", lines).mismatch ?? "", /line 2: expected "b", got "c"/);
});

test("lines may be case-insensitive", () => {
  assert.equal(judgeOutput("YES", "yes", { mode: "lines", caseInsensitive: true }).passed, true);
  assert.equal(judgeOutput("YES", "yes", lines).passed, false);
});

test("Unicode spaces are content in lines mode, not trailing whitespace", () => {
  assert.equal(judgeOutput("a", "a\u00a0", lines).passed, false);
});
