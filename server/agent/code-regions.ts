// Functions in a source file, with their line ranges: what "the function under the cursor" means for
// Fix Until Tests Pass and where CodeLenses go. Python by indentation; JavaScript/TypeScript through the
// TypeScript compiler's parser (the `typescript` package, already a run-time dependency).
import ts from "typescript";
import type { Language } from "../env/types";

export interface FunctionRegion {
  name: string;
  /** 1-based inclusive line range, decorators included. */
  startLine: number;
  endLine: number;
  /** Nesting depth: 0 for top level, 1 for methods of a top-level class, … */
  depth: number;
}

export function languageOfFile(path: string): Language | null {
  if (/\.py$/i.test(path)) return "python";
  if (/\.(c|m)?jsx?$/i.test(path)) return "javascript";
  if (/\.(c|m)?tsx?$/i.test(path)) return "typescript";
  return null;
}

export function findFunctions(text: string, language: Language): FunctionRegion[] {
  return language === "python" ? pythonFunctions(text) : scriptFunctions(text, language);
}

/** The innermost function containing the 1-based line, or null. */
export function functionAt(text: string, language: Language, line: number): FunctionRegion | null {
  let best: FunctionRegion | null = null;
  for (const f of findFunctions(text, language)) {
    if (f.startLine <= line && line <= f.endLine && (!best || f.depth > best.depth)) best = f;
  }
  return best;
}

function indentOf(line: string): number {
  const m = /^[ \t]*/.exec(line);
  return m ? m[0].replace(/\t/g, "        ").length : 0;
}

function pythonFunctions(text: string): FunctionRegion[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const out: FunctionRegion[] = [];
  const classIndents: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const def = /^([ \t]*)(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)[ \t]*\(/.exec(line);
    if (!def) continue;
    const indent = indentOf(def[1]);
    while (classIndents.length && classIndents[classIndents.length - 1] >= indent) classIndents.pop();
    // Decorators directly above belong to the function.
    let start = i;
    while (start > 0 && /^[ \t]*@/.test(lines[start - 1]) && indentOf(lines[start - 1]) === indent) start--;
    let end = i;
    let open = bracketBalance(line);
    for (let j = i + 1; j < lines.length; j++) {
      const l = lines[j];
      if (open > 0) {
        open += bracketBalance(l);
        end = j;
        continue;
      }
      if (l.trim() === "" || /^[ \t]*#/.test(l)) continue;
      if (indentOf(l) <= indent) break;
      end = j;
      open += bracketBalance(l);
    }
    out.push({ name: def[2], startLine: start + 1, endLine: end + 1, depth: depthOf(lines, i, indent) });
  }
  return out;
}

function depthOf(lines: string[], index: number, indent: number): number {
  let depth = 0;
  let current = indent;
  for (let j = index - 1; j >= 0 && current > 0; j--) {
    const l = lines[j];
    if (l.trim() === "" || /^[ \t]*#/.test(l)) continue;
    const ind = indentOf(l);
    if (ind < current && /^[ \t]*(class|def|async[ \t]+def)\b/.test(l)) {
      depth++;
      current = ind;
    } else if (ind < current) {
      current = ind;
    }
  }
  return depth;
}

function bracketBalance(line: string): number {
  let n = 0;
  const code = line.replace(/#.*$/, "").replace(/(["'])(?:\\.|(?!\1).)*\1/g, "");
  for (const ch of code) {
    if (ch === "(" || ch === "[" || ch === "{") n++;
    else if (ch === ")" || ch === "]" || ch === "}") n--;
  }
  return n;
}

function scriptFunctions(text: string, language: Language): FunctionRegion[] {
  const kind = language === "typescript" ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const source = ts.createSourceFile("file", text, ts.ScriptTarget.Latest, true, kind);
  const out: FunctionRegion[] = [];
  const lineOf = (pos: number) => source.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (node: ts.Node, depth: number) => {
    let name: string | null = null;
    let range: ts.Node = node;
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name && node.body) {
      name = node.name.getText(source);
    } else if (ts.isVariableStatement(node)) {
      const decl = node.declarationList.declarations[0];
      if (decl && ts.isIdentifier(decl.name) && decl.initializer && (ts.isArrowFunction(decl.initializer) || ts.isFunctionExpression(decl.initializer))) {
        name = decl.name.text;
        range = node;
      }
    }
    if (name !== null) {
      out.push({ name, startLine: lineOf(range.getStart(source)), endLine: lineOf(range.getEnd()), depth });
    }
    const nested = name !== null || ts.isClassDeclaration(node) ? depth + 1 : depth;
    ts.forEachChild(node, (child) => visit(child, nested));
  };
  ts.forEachChild(source, (child) => visit(child, 0));
  return out;
}
