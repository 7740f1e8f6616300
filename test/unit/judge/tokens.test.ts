import { test } from "node:test";
import assert from "node:assert/strict";
import { judgeOutput } from "../../../server/env/judge";
import type { OutputChecker } from "../../../server/env/types";

const tokens: OutputChecker = { mode: "tokens" };
const pass = (expected: string, actual: string, checker: OutputChecker = tokens) =>
  assert.equal(judgeOutput(expected, actual, checker).passed, true, `${JSON.stringify(actual)} should match ${JSON.stringify(expected)}`);
const fail = (expected: string, actual: string, checker: OutputChecker = tokens) =>
  assert.equal(judgeOutput(expected, actual, checker).passed, false, `${JSON.stringify(actual)} should not match ${JSON.stringify(expected)}`);

test("tokens ignores how whitespace separates the tokens", () => {
  pass("1 2\n3\n", "1\n2 3");
  pass("a b", "  a\t\tb \r\n\n\n");
  pass("", "  \n ");
});

test("tokens is case-sensitive by default and case-insensitive when the record says so", () => {
  fail("YES", "yes");
  pass("Case #1: YES", "case #1: yes", { mode: "tokens", caseInsensitive: true });
});

test("missing and extra tokens fail with the position in the message", () => {
  const missing = judgeOutput("1 2 3", "1 2", tokens);
  assert.equal(missing.passed, false);
  assert.match(missing.mismatch ?? "", /ended after 2 tokens/);
  const extra = judgeOutput("1 2", "1 2 3", tokens);
  assert.equal(extra.passed, false);
  assert.match(extra.mismatch ?? "", /token 3/);
  fail("", "0");
});

test("integers must be equal exactly, beyond 2^53 too", () => {
  pass("9007199254740993", "9007199254740993");
  fail("9007199254740993", "9007199254740992");
  fail("123456789012345678901234567890", "123456789012345678901234567891");
  fail("3", "4");
});

test("integer texts compare as text: leading zeros, '+' and '-0' are different answers", () => {
  fail("0010", "10"); // a binary string answer
  fail("5", "+5");
  fail("0", "-0");
});

test("decimals match within 1e-6 absolute or relative", () => {
  pass("0.5", "0.5000004");
  fail("0.5", "0.500002");
  pass("1000000000", "1000000000.5"); // relative: 5e-10
  fail("1000", "1000.01");
  pass("3", "3.0");
  pass("2.50", "2.5");
  pass("-0.0", "0");
  pass("1e-9", "0.0");
  pass(".5", "0.5");
  pass("5.", "5");
});

test("the record's own tolerance replaces the default", () => {
  const loose: OutputChecker = { mode: "tokens", floatTolerance: 0.03 };
  pass("1.00", "1.02", loose);
  fail("1.00", "1.05", loose);
  const tight: OutputChecker = { mode: "tokens", floatTolerance: 1e-9 };
  fail("0.5", "0.5000004", tight);
  const zero: OutputChecker = { mode: "tokens", floatTolerance: 0 };
  pass("0.50", "0.5", zero);
  fail("0.5", "0.5000000001", zero);
});

test("exponents beyond the double range compare without overflowing to Infinity", () => {
  pass("1e400", "1e400");
  pass("1e400", "1.0000000e400");
  pass("1e400", "10e399");
  fail("1e400", "2e400");
  fail("1e400", "1e401");
  fail("1e400", "Infinity");
  fail("-1e400", "1e400");
  pass("1e-400", "0.0"); // absolute tolerance
  fail("1e99999999999999999999", "1e99999999999999999998"); // absurd exponents are text, not numbers
});

test("nan and inf are compared as text, never as numbers", () => {
  pass("nan", "nan");
  fail("nan", "NaN");
  pass("inf", "inf");
  fail("inf", "1e400");
  fail("NaN", "0.0");
  pass("NAN", "nan", { mode: "tokens", caseInsensitive: true });
});

test("hex-looking tokens are text", () => {
  fail("16", "0x10");
  fail("0x10", "0x1.0p4");
  pass("0x10", "0x10");
  fail("1e5", "0x186a0");
});

test("malformed numbers are compared as text", () => {
  fail("1.5", "1.5.0");
  fail("1.5", "1,5");
  fail("1e5", "1e");
  fail(".", "0.0");
  pass("1e", "1e");
});

test("only ASCII whitespace separates tokens: U+00A0, U+3000 and U+2028 stay inside a token", () => {
  fail("1 2", "1\u00a02");
  fail("1 2", "1\u30002");
  fail("1 2", "1\u20282");
  pass("a\u00a0b", "a\u00a0b\n");
  pass("1 2", "1\v2\f");
});

test("non-ASCII tokens compare by their text", () => {
  pass("héllo 世界", "héllo\n世界");
  fail("straße", "strasse");
});

test("huge outputs are judged without failing", () => {
  const big = "7 ".repeat(2_000_000);
  pass(big, big.replace(/ /g, "\n"));
  fail(big, big + "7");
  const longToken = "9".repeat(5_000_000);
  const v = judgeOutput(longToken, longToken + "9", tokens);
  assert.equal(v.passed, false);
  assert.ok((v.mismatch ?? "").length < 400, "the mismatch message quotes a bounded part of a long token");
});

test("a negative or NaN tolerance is a clear error", () => {
  assert.throws(() => judgeOutput("1", "1", { mode: "tokens", floatTolerance: -1 }), /tolerance/);
  assert.throws(() => judgeOutput("1", "1", { mode: "tokens", floatTolerance: Number.NaN }), /tolerance/);
});

test("an unknown mode is a clear error", () => {
  assert.throws(() => judgeOutput("1", "1", { mode: "fuzzy" } as unknown as OutputChecker), /unknown judge mode "fuzzy"/);
});
