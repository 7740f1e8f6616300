// Writing the model's candidate into the target file: the whole file, or a 1-based inclusive line range.
import type { WorkspaceTask } from "../types";

export type WorkspaceTarget = WorkspaceTask["target"];

/** The target cannot be applied: a path outside the project, a line range that does not fit the file. */
export class InvalidTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidTargetError";
  }
}

/** Checks the target file is a plain relative path inside the project; returns it with `/` separators. */
export function checkTargetPath(file: string): string {
  if (typeof file !== "string" || file.trim() === "") throw new InvalidTargetError("the target file is empty");
  if (file.includes("\0")) throw new InvalidTargetError(`the target file ${JSON.stringify(file)} contains a NUL byte`);
  const normalised = file.replace(/\\/g, "/");
  if (normalised.startsWith("/") || /^[A-Za-z]:\//.test(normalised)) {
    throw new InvalidTargetError(`the target file ${JSON.stringify(file)} must be relative to the project root`);
  }
  const parts = normalised.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.length === 0 || parts.includes("..")) {
    throw new InvalidTargetError(`the target file ${JSON.stringify(file)} is not inside the project`);
  }
  return parts.join("/");
}

function checkLine(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) throw new InvalidTargetError(`${what} must be a whole number >= 1, got ${value}`);
}

/**
 * The file's new text: `code` replaces the whole file when the target has no line range, else lines
 * startLine..endLine (1-based, inclusive). The file's line-ending style and final newline are kept.
 * `original` is null when the target file does not exist yet (only a whole-file target may create it).
 */
export function applyCandidate(original: string | null, code: string, target: WorkspaceTarget): string {
  const { startLine, endLine } = target;
  if (startLine === undefined && endLine === undefined) return code;
  if (startLine === undefined || endLine === undefined) {
    throw new InvalidTargetError("a line range needs both startLine and endLine");
  }
  checkLine(startLine, "startLine");
  checkLine(endLine, "endLine");
  if (endLine < startLine) throw new InvalidTargetError(`the line range ${startLine}..${endLine} is empty (endLine < startLine)`);
  if (original === null) throw new InvalidTargetError(`the target file ${target.file} does not exist, so lines ${startLine}..${endLine} cannot be replaced`);

  const eol = original.includes("\r\n") ? "\r\n" : "\n";
  const endsWithNewline = original.endsWith("\n");
  const lines = original.split(/\r?\n/);
  if (endsWithNewline) lines.pop();
  if (endLine > lines.length) {
    throw new InvalidTargetError(`the line range ${startLine}..${endLine} runs past the end of ${target.file} (${lines.length} lines)`);
  }
  const replacement = code.replace(/\r?\n$/, "").split(/\r?\n/);
  const updated = [...lines.slice(0, startLine - 1), ...replacement, ...lines.slice(endLine)];
  return updated.join(eol) + (endsWithNewline ? eol : "");
}
