// Just enough of Python's lexical structure to cut a block of code into its top-level statements: brackets,
// string literals (including triple-quoted and prefixed ones), comments and backslash continuations.
// Used to split a flat list of asserts into separate test cases; anything it cannot classify as flat stays
// one script, so a mistake here can only make a split less fine, never change what runs.

export interface Statement {
  /** The statement's text, dedented to the block's indentation. */
  text: string;
  /** 0-based index of its first line within the block. */
  firstLine: number;
}

/** Tracks open brackets and strings across lines. */
export class LineScanner {
  depth = 0;
  /** The quote that closes the currently open string, if a triple-quoted string spans lines. */
  openTriple: string | null = null;

  /** Scans one line; returns whether it ends with a backslash continuation. `onCode` sees each code span. */
  scan(line: string, onCode?: (from: number, to: number) => void): boolean {
    let i = 0;
    if (this.openTriple) {
      const close = findClosing(line, 0, this.openTriple);
      if (close < 0) return false;
      i = close;
      this.openTriple = null;
    }
    let codeStart = i;
    const flush = (to: number) => {
      if (onCode && to > codeStart) onCode(codeStart, to);
    };
    while (i < line.length) {
      const c = line[i];
      if (c === "#") {
        flush(i);
        return false;
      }
      if (c === "(" || c === "[" || c === "{") this.depth++;
      else if (c === ")" || c === "]" || c === "}") this.depth = Math.max(0, this.depth - 1);
      else if (c === "'" || c === '"') {
        flush(i);
        const triple = line.startsWith(c.repeat(3), i) ? c.repeat(3) : null;
        const quote = triple ?? c;
        const close = findClosing(line, i + quote.length, quote);
        if (close < 0) {
          if (triple) this.openTriple = triple;
          return false;
        }
        i = close;
        codeStart = i;
        continue;
      } else if (c === "\\" && i === line.length - 1) {
        flush(i);
        return true;
      }
      i++;
    }
    flush(line.length);
    return false;
  }
}

/** Index just past the closing quote, or -1 when the string does not close on this line. */
function findClosing(line: string, from: number, quote: string): number {
  let i = from;
  while (i < line.length) {
    if (line[i] === "\\") {
      i += 2;
      continue;
    }
    if (line.startsWith(quote, i)) return i + quote.length;
    i++;
  }
  return -1;
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/**
 * Splits a block (all lines at one base indentation) into top-level statements. Returns null when the block
 * holds a compound statement (a line indented deeper than the base that starts a new statement), since such
 * a block cannot be cut into independent pieces.
 */
export function splitTopLevelStatements(lines: string[]): Statement[] | null {
  const scanner = new LineScanner();
  const statements: Statement[] = [];
  let base = -1;
  let current: { lines: string[]; firstLine: number } | null = null;
  let continues = false;
  lines.forEach((rawLine, index) => {
    const line = rawLine.replace(/\r$/, "");
    const inside = current !== null && (scanner.depth > 0 || scanner.openTriple !== null || continues);
    if (!inside) {
      const trimmed = line.trim();
      if (trimmed === "" || trimmed.startsWith("#")) return;
      if (base < 0) base = indentOf(line);
      if (indentOf(line) !== base) {
        base = -2; // marks "not flat"
      }
      if (current) statements.push({ text: current.lines.join("\n"), firstLine: current.firstLine });
      current = { lines: [], firstLine: index };
    }
    current!.lines.push(line.slice(Math.min(Math.max(base, 0), indentOf(line))));
    continues = scanner.scan(line);
  });
  if (base === -2) return null;
  if (current) statements.push({ text: (current as { lines: string[] }).lines.join("\n"), firstLine: (current as { firstLine: number }).firstLine });
  return statements;
}

export function isAssertStatement(text: string): boolean {
  return /^assert\b/.test(text) && !text.trimEnd().endsWith(":");
}

/**
 * The asserts of `def check(candidate):` when its body is a flat list of asserts, else null.
 * Module-level code around the function is left to the caller (it runs as the preamble).
 */
export function flatCheckAsserts(testModule: string): string[] | null {
  const lines = testModule.split("\n");
  const start = lines.findIndex((l) => /^def check\s*\(\s*candidate\s*\)\s*:\s*(#.*)?$/.test(l.replace(/\r$/, "")));
  if (start < 0) return null;
  let end = start + 1;
  while (end < lines.length && (lines[end].trim() === "" || indentOf(lines[end]) > 0)) end++;
  const statements = splitTopLevelStatements(lines.slice(start + 1, end));
  if (!statements || statements.length === 0) return null;
  if (!statements.every((s) => isAssertStatement(s.text))) return null;
  return statements.map((s) => s.text);
}
