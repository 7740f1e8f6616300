// Code extraction from a model response: the one rule the agent, the evaluation and the trainer share.
//
// The rule (spec: "which block … is not stated"; this is the project's choice):
//   1. Line endings are normalised (CRLF and lone CR become LF) before anything else.
//   2. A fence opens on a line that is any amount of spaces/tabs, then 3+ backticks or 3+ tildes, then an
//      optional info string (for backtick fences the info string may not contain a backtick). The first
//      word of the info string, lower-cased, is the block's tag.
//   3. It closes on a line with the same indentation or less, the same fence character repeated at least
//      as many times, and nothing else but whitespace. Other fences inside a block are content.
//   4. A fence left open at the end of the response is a block running to the end (a response cut off by
//      the generation limit still yields code; if that code is broken, running it reports the error).
//   5. Each content line loses up to as much leading whitespace as the opening fence had.
//   6. Blocks whose content is only whitespace do not count.
//   7. The answer is the LAST block tagged with the task's language (aliases below); failing that, the
//      LAST untagged block. Blocks tagged with another language (```text, ```bash …) are never taken.
//   8. No such block: the response is invalid (reward −0.2). Code with a syntax error is NOT invalid; it is
//      run and its error shown like any other exception.
import type { Language } from "./types";

export const LANGUAGE_TAGS: Record<Language, readonly string[]> = {
  python: ["python", "py", "python3", "py3"],
  javascript: ["javascript", "js", "node", "nodejs", "mjs", "cjs"],
  typescript: ["typescript", "ts"],
};

export interface FencedBlock {
  /** First word of the info string, lower-cased; "" when untagged. */
  tag: string;
  content: string;
  /** The response ended before the closing fence. */
  unterminated: boolean;
}

export type Extraction =
  | { valid: true; code: string; block: FencedBlock; blockCount: number }
  | { valid: false; reason: "no-code-block" | "no-block-for-language"; blockCount: number };

const OPENING = /^([ \t]*)(`{3,}|~{3,})(.*)$/;

export function findFencedBlocks(response: string): FencedBlock[] {
  const lines = response.replace(/\r\n?/g, "\n").split("\n");
  const blocks: FencedBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const open = OPENING.exec(lines[i]);
    if (!open || (open[2][0] === "`" && open[3].includes("`"))) {
      i++;
      continue;
    }
    const indent = open[1].length;
    const fence = open[2];
    const tag = (open[3].trim().split(/\s+/)[0] ?? "").toLowerCase();
    const body: string[] = [];
    let closed = false;
    i++;
    for (; i < lines.length; i++) {
      if (closesFence(lines[i], fence, indent)) {
        closed = true;
        i++;
        break;
      }
      body.push(stripIndent(lines[i], indent));
    }
    blocks.push({ tag, content: body.join("\n"), unterminated: !closed });
  }
  return blocks;
}

function closesFence(line: string, fence: string, indent: number): boolean {
  const m = /^([ \t]*)(`{3,}|~{3,})[ \t]*$/.exec(line);
  return m !== null && m[1].length <= indent && m[2][0] === fence[0] && m[2].length >= fence.length;
}

function stripIndent(line: string, indent: number): string {
  let k = 0;
  while (k < indent && k < line.length && (line[k] === " " || line[k] === "\t")) k++;
  return line.slice(k);
}

export function extractCode(response: string, language: Language): Extraction {
  const blocks = findFencedBlocks(response).filter((b) => b.content.trim() !== "");
  const tags = LANGUAGE_TAGS[language];
  const pick = findLast(blocks, (b) => tags.includes(b.tag)) ?? findLast(blocks, (b) => b.tag === "");
  if (!pick) {
    return { valid: false, reason: blocks.length === 0 ? "no-code-block" : "no-block-for-language", blockCount: blocks.length };
  }
  const code = pick.content.endsWith("\n") ? pick.content : `${pick.content}\n`;
  return { valid: true, code, block: pick, blockCount: blocks.length };
}

function findLast<T>(items: T[], pred: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (pred(items[i])) return items[i];
  return undefined;
}
