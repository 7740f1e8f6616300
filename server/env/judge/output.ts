// The one output judge: every caller that compares a program's stdout with an expected output comes here
// (spec/environment.md, "Judging stdin/stdout output").
import type { OutputChecker } from "../types";
import { decimalsClose, isIntegerToken, looksDecimal, parseDecimalToken } from "./numbers";

export const DEFAULT_FLOAT_TOLERANCE = 1e-6;

export interface JudgeVerdict {
  passed: boolean;
  /** Where and how the output differs, for feedback ("token 3: expected '5', got '4'"). */
  mismatch?: string;
}

/** Longest token or line quoted inside a mismatch message. */
const QUOTE_LIMIT = 80;

/**
 * Compares a program's output with the expected output.
 * - `tokens`: split on ASCII whitespace (what judges split on; U+00A0 and other Unicode spaces stay inside a
 *   token). Integer tokens compare as exact strings, because digit strings such as binary "0010" are answers
 *   too; when either token has a decimal point or an exponent both are read as numbers and match within the
 *   tolerance (absolute or relative). "nan", "inf" and hex such as "0x10" are not numbers here: compared as text.
 * - `lines`: trailing whitespace of each line and trailing blank lines ignored.
 * - `exact`: byte-for-byte.
 */
export function judgeOutput(expected: string, actual: string, checker: OutputChecker): JudgeVerdict {
  switch (checker.mode) {
    case "exact":
      return judgeExact(expected, actual);
    case "lines":
      return judgeLines(expected, actual, checker.caseInsensitive === true);
    case "tokens":
      return judgeTokens(expected, actual, checker.floatTolerance ?? DEFAULT_FLOAT_TOLERANCE, checker.caseInsensitive === true);
    default:
      throw new Error(`unknown judge mode ${JSON.stringify((checker as { mode: unknown }).mode)}`);
  }
}

function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}…` : text);
}

function judgeExact(expected: string, actual: string): JudgeVerdict {
  if (expected === actual) return { passed: true };
  let i = 0;
  while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++;
  return {
    passed: false,
    mismatch: `output differs at character ${i + 1}: expected ${quote(expected.slice(i, i + 20))}, got ${quote(actual.slice(i, i + 20))}`,
  };
}

function isAsciiSpace(code: number): boolean {
  // space, \t, \n, \v, \f, \r
  return code === 32 || (code >= 9 && code <= 13);
}

/** Yields whitespace-separated tokens without building an array, so a huge output costs no extra copy. */
function* tokensOf(text: string): Generator<string> {
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && isAsciiSpace(text.charCodeAt(i))) i++;
    if (i >= n) return;
    const start = i;
    while (i < n && !isAsciiSpace(text.charCodeAt(i))) i++;
    yield text.slice(start, i);
  }
}

/** Whether two tokens are the same answer under the tokens rules. */
export function tokensMatch(expected: string, actual: string, tolerance: number, caseInsensitive: boolean): boolean {
  if (expected === actual) return true;
  if (looksDecimal(expected) || looksDecimal(actual)) {
    const e = parseDecimalToken(expected);
    const a = parseDecimalToken(actual);
    if (e && a) return decimalsClose(a, e, tolerance);
  } else if (isIntegerToken(expected) && isIntegerToken(actual)) {
    return false; // two different integer texts
  }
  return caseInsensitive && expected.toLowerCase() === actual.toLowerCase();
}

function judgeTokens(expected: string, actual: string, tolerance: number, caseInsensitive: boolean): JudgeVerdict {
  if (!(tolerance >= 0)) throw new Error(`float tolerance must be a non-negative number, got ${tolerance}`);
  const exp = tokensOf(expected);
  const act = tokensOf(actual);
  for (let index = 1; ; index++) {
    const e = exp.next();
    const a = act.next();
    if (e.done && a.done) return { passed: true };
    if (e.done) return { passed: false, mismatch: `expected ${index - 1} tokens, output has more (token ${index}: ${quote(a.value as string)})` };
    if (a.done) return { passed: false, mismatch: `output ended after ${index - 1} tokens; expected token ${index}: ${quote(e.value)}` };
    if (!tokensMatch(e.value, a.value, tolerance, caseInsensitive)) {
      return { passed: false, mismatch: `token ${index}: expected ${quote(e.value)}, got ${quote(a.value)}` };
    }
  }
}

/** Lines without trailing whitespace, trailing blank lines dropped. */
function significantLines(text: string): string[] {
  const lines = text.split("\n").map((l) => l.replace(/[ \t\r\v\f]+$/, ""));
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function judgeLines(expected: string, actual: string, caseInsensitive: boolean): JudgeVerdict {
  const e = significantLines(expected);
  const a = significantLines(actual);
  const n = Math.max(e.length, a.length);
  for (let i = 0; i < n; i++) {
    const el = e[i];
    const al = a[i];
    if (el === undefined) return { passed: false, mismatch: `expected ${e.length} lines, output has more (line ${i + 1}: ${quote(al)})` };
    if (al === undefined) return { passed: false, mismatch: `output ended after ${a.length} lines; expected line ${i + 1}: ${quote(el)}` };
    const same = caseInsensitive ? el.toLowerCase() === al.toLowerCase() : el === al;
    if (!same) return { passed: false, mismatch: `line ${i + 1}: expected ${quote(el)}, got ${quote(al)}` };
  }
  return { passed: true };
}
