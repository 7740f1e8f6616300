// The turn-one user message for each task kind, and the code-format instruction that the feedback
// message repeats. Wording is the project's own; the structure follows the paper (spec/rlef.md §2).
import type { FunctionTask, Language, StdioTask, Task, WorkspaceTask } from "./types";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

const LANGUAGE_NAMES: Record<Language, string> = { python: "Python 3", javascript: "JavaScript", typescript: "TypeScript" };

/** The fence tag the model is asked to use (one of extract.ts's LANGUAGE_TAGS). */
export function fenceTag(language: Language): string {
  return language;
}

/** What the model's answer must look like; the first prompt ends with it and every feedback message repeats it. */
export function formatInstruction(task: Task): string {
  const tag = fenceTag(task.language);
  const what =
    task.kind === "stdio" ? "your complete program" : task.kind === "function" ? "the complete function" : workspaceAnswerNoun(task);
  return `Answer with ${what} in a single fenced \`\`\`${tag} code block, and put nothing else in backticks.`;
}

/** Turn one: the problem and the format instruction, as one user message. */
export function buildFirstPrompt(task: Task, context: { targetSource?: string } = {}): ChatMessage[] {
  switch (task.kind) {
    case "stdio":
      return [{ role: "user", content: stdioPrompt(task) }];
    case "function":
      return [{ role: "user", content: functionPrompt(task) }];
    case "workspace":
      return [{ role: "user", content: workspacePrompt(task, context.targetSource) }];
  }
}

function stdioPrompt(task: StdioTask): string {
  return [
    `Solve the following programming problem in ${LANGUAGE_NAMES[task.language]}. ` +
      "Your program reads the input from standard input and writes the answer to standard output.",
    task.statement.trim(),
    formatInstruction(task),
  ].join("\n\n");
}

function functionPrompt(task: FunctionTask): string {
  const name = LANGUAGE_NAMES[task.language];
  // A prompt that already is code (a signature with a docstring) is shown as code; a prose statement as prose.
  const problem = looksLikeDefinition(task)
    ? `\`\`\`${fenceTag(task.language)}\n${task.prompt.replace(/\s+$/, "")}\n\`\`\``
    : task.prompt.trim();
  return [
    `Complete the following ${name} function \`${task.entryPoint}\`. Include any imports and helper functions it needs.`,
    problem,
    formatInstruction(task),
  ].join("\n\n");
}

function looksLikeDefinition(task: FunctionTask): boolean {
  const name = task.entryPoint.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern =
    task.language === "python"
      ? new RegExp(`(^|\\n)\\s*(async\\s+)?def\\s+${name}\\s*\\(`)
      : new RegExp(`(function\\s*\\*?\\s*${name}\\s*[(<])|((const|let|var)\\s+${name}\\s*=)`);
  return pattern.test(task.prompt);
}

function workspaceAnswerNoun(task: WorkspaceTask): string {
  const t = task.target;
  if (t.symbol) return `the complete new version of \`${t.symbol}\``;
  if (t.startLine !== undefined && t.endLine !== undefined) return `the complete replacement for lines ${t.startLine}–${t.endLine}`;
  return `the complete new content of \`${t.file}\``;
}

function workspacePrompt(task: WorkspaceTask, targetSource: string | undefined): string {
  const t = task.target;
  const where = t.symbol
    ? `the function \`${t.symbol}\` in \`${t.file}\``
    : t.startLine !== undefined && t.endLine !== undefined
      ? `lines ${t.startLine}–${t.endLine} of \`${t.file}\``
      : `the file \`${t.file}\``;
  const parts = [
    `Change ${where} so that the project's tests pass. The tests are run with \`${task.command.join(" ")}\`.`,
  ];
  if (targetSource !== undefined) {
    parts.push(`The current code:\n\`\`\`${fenceTag(task.language)}\n${targetSource.replace(/\s+$/, "")}\n\`\`\``);
  }
  parts.push(formatInstruction(task));
  return parts.join("\n\n");
}
