// The deterministic mutant `rlef verify` runs for each Python reference solution: it must fail the tests.
//
// Rule (one rule, no retries over mutation sites): inside the entry point's body, every `return EXPR`
// becomes `return None if True else EXPR` (the return value is replaced by None, the expression is kept so
// the line still parses the same way), and every bare `return` becomes `return "<mutant>"`. A function with
// no return statement at all gets a wrapper whose result is replaced the same way. Replacing the entry
// point's result changes behaviour for any test that looks at it, so a surviving mutant means the tests do
// not check the function's result: a finding, reported as such, never retried with another mutation.
import { LineScanner } from "../tasks/python-statements";

export interface Mutant {
  code: string;
  /** Where and how the reference was changed, for the verify report. */
  description: string;
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Offsets of the `return` keywords on a line that are code (not inside strings or comments). */
function returnKeywords(line: string, scanner: LineScanner): number[] {
  const found: number[] = [];
  scanner.scan(line, (from, to) => {
    const span = line.slice(from, to);
    for (const m of span.matchAll(/(?<![\w.])return(?!\w)/g)) found.push(from + (m.index ?? 0));
  });
  return found;
}

export function returnValueMutant(reference: string, entryPoint: string): Mutant {
  const lines = reference.split("\n");
  const defRe = new RegExp(`^([ \\t]*)(async\\s+)?def\\s+${escapeRegExp(entryPoint)}\\s*\\(`);
  const scanner = new LineScanner();
  let defLine = -1;
  for (let i = 0; i < lines.length; i++) {
    const inString = scanner.openTriple !== null;
    if (!inString && defRe.test(lines[i])) {
      defLine = i;
      break;
    }
    scanner.scan(lines[i]);
  }
  if (defLine >= 0) {
    const defIndent = indentOf(lines[defLine]);
    const bodyScanner = new LineScanner();
    const changed: number[] = [];
    let nestedIndent: number | null = null;
    for (let i = defLine; i < lines.length; i++) {
      const line = lines[i];
      const atStatementStart = bodyScanner.openTriple === null && bodyScanner.depth === 0;
      if (i > defLine && atStatementStart && line.trim() !== "" && !line.trim().startsWith("#")) {
        if (indentOf(line) <= defIndent) break;
        // Returns of nested functions and classes are not the entry point's result: leave them alone.
        if (nestedIndent !== null && indentOf(line) <= nestedIndent) nestedIndent = null;
        if (nestedIndent === null && /^\s*(async\s+def|def|class)\s/.test(line)) nestedIndent = indentOf(line);
      }
      const offsets = returnKeywords(line, bodyScanner);
      if (offsets.length === 0 || nestedIndent !== null) continue;
      let rewritten = line;
      for (const at of offsets.reverse()) {
        const rest = rewritten.slice(at + "return".length);
        const bare = /^\s*(;|#|$)/.test(rest);
        rewritten = rewritten.slice(0, at) + (bare ? 'return "<mutant>"' : "return None if True else") + rest;
      }
      lines[i] = rewritten;
      changed.push(i + 1);
    }
    if (changed.length > 0) {
      return {
        code: lines.join("\n"),
        description: `mutant: ${entryPoint}'s return value replaced (line${changed.length > 1 ? "s" : ""} ${changed.join(", ")})`,
      };
    }
  }
  // No def with a return statement (a lambda, a function that only prints, a class): wrap the result.
  const wrapper = [
    "",
    `_rlef_original_${entryPoint} = ${entryPoint}`,
    `def ${entryPoint}(*args, **kwargs):`,
    `    result = _rlef_original_${entryPoint}(*args, **kwargs)`,
    `    return None if result is not None else "<mutant>"`,
    "",
  ].join("\n");
  return { code: reference + wrapper, description: `mutant: ${entryPoint}'s result replaced by a wrapper (no return statement to change)` };
}
