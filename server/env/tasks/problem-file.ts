// A stdin/stdout problem written by a user in a Markdown or text file, in the usual contest format:
// the statement, then examples as "Input"/"Output" pairs. The examples become the public tests.
//
// Rule (documented for users in the README): an example is a heading or label line naming an input —
// "Input", "Sample Input 2", "Example input", "### Input", "**Input:**" — whose body is a fenced code
// block (Markdown) or, when the label says "sample" or "example", the lines up to the next blank line or
// label (plain text); it pairs with the next such output label. A section named "Input" whose body is
// prose (the input format description) is not an example.
import { DEFAULT_LIMITS, type StdioTask } from "../types";

export class ProblemFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "ProblemFileError";
  }
}

interface Label {
  kind: "input" | "output";
  /** "sample"/"example" wording: plain-text bodies are accepted. */
  explicit: boolean;
  line: number;
}

const LABEL = /^\s*(?:#{1,6}\s*)?(?:\*\*|__)?\s*(sample|example)?\s*(?:test\s*)?(?:case\s*)?(?:#?\d+\s*)?(input|output)\s*(?:#?\d+)?\s*:?\s*(?:\*\*|__)?\s*:?\s*$/i;

function parseLabel(line: string, index: number): Label | null {
  const m = LABEL.exec(line);
  if (!m) return null;
  return { kind: m[2].toLowerCase() as "input" | "output", explicit: m[1] !== undefined, line: index };
}

/** The body of a label: a fenced block right after it (blank lines allowed), or plain sample lines. */
function readBody(lines: string[], label: Label): { text: string; end: number } | null {
  let i = label.line + 1;
  while (i < lines.length && lines[i].trim() === "") i++;
  if (i >= lines.length) return null;
  const fence = /^\s*(`{3,}|~{3,})/.exec(lines[i]);
  if (fence) {
    const marker = fence[1];
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trim().startsWith(marker)) body.push(lines[j++]);
    if (j >= lines.length) return null; // unterminated fence: not a well-formed example
    return { text: body.join("\n") + "\n", end: j + 1 };
  }
  if (!label.explicit || parseLabel(lines[i], i)) return null;
  const body: string[] = [];
  let j = i;
  while (j < lines.length && lines[j].trim() !== "" && !parseLabel(lines[j], j)) body.push(lines[j++]);
  return { text: body.join("\n") + "\n", end: j };
}

export interface ParsedProblem {
  statement: string;
  examples: { input: string; output: string }[];
}

export function parseProblemText(text: string, file: string): ParsedProblem {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const examples: { input: string; output: string }[] = [];
  let pendingInput: { text: string; line: number } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const label = parseLabel(lines[i], i);
    if (!label) continue;
    const body = readBody(lines, label);
    if (!body) continue;
    if (label.kind === "input") {
      if (pendingInput) throw new ProblemFileError(file, `example input at line ${pendingInput.line + 1} has no output before the next input at line ${i + 1}`);
      pendingInput = { text: body.text, line: i };
    } else {
      if (!pendingInput) throw new ProblemFileError(file, `example output at line ${i + 1} has no input before it`);
      examples.push({ input: pendingInput.text, output: body.text });
      pendingInput = null;
    }
    i = body.end - 1;
  }
  if (pendingInput) throw new ProblemFileError(file, `example input at line ${pendingInput.line + 1} has no output`);
  return { statement: text.trim(), examples };
}

/** A stdio task from a problem file; its examples are the public tests (there are no private tests). */
export function problemFileTask(text: string, file: string, id = file): StdioTask {
  if (text.trim() === "") throw new ProblemFileError(file, "the file is empty");
  const parsed = parseProblemText(text, file);
  if (parsed.examples.length === 0) {
    throw new ProblemFileError(
      file,
      'no examples found. Add at least one example as an "Input" heading followed by a fenced code block, then an "Output" heading with its block.',
    );
  }
  return {
    kind: "stdio",
    id,
    set: "user",
    language: "python",
    statement: parsed.statement,
    publicTests: parsed.examples,
    privateTests: [],
    checker: { mode: "tokens" },
    limits: { ...DEFAULT_LIMITS },
  };
}
