// A stdin/stdout task written as JSON by a user (the editor's "Solve Problem in This File" and `rlef solve`
// accept it beside Markdown problem files). Every field is checked, with the path of the one at fault.
//
//   { "kind": "stdio", "statement": "…", "publicTests": [{ "input": "3\n", "output": "6\n" }],
//     "privateTests": [...], "checker": { "mode": "tokens", "floatTolerance": 1e-6 },
//     "limits": { "timeMs": 2000, "memoryBytes": 268435456 }, "language": "python" }
import { DEFAULT_LIMITS, type JudgeMode, type Language, type StdioTask, type StdioTest } from "../types";
import { ProblemFileError, problemFileTask } from "./problem-file";

const LANGUAGES: Language[] = ["python", "javascript", "typescript"];
const MODES: JudgeMode[] = ["tokens", "exact", "lines"];

function tests(value: unknown, path: string, file: string): StdioTest[] {
  if (!Array.isArray(value)) throw new ProblemFileError(file, `${path} must be a list of {"input", "output"}`);
  return value.map((t, i) => {
    const item = t as { input?: unknown; output?: unknown } | null;
    if (typeof item !== "object" || item === null || typeof item.input !== "string" || typeof item.output !== "string") {
      throw new ProblemFileError(file, `${path}[${i}] must be {"input": string, "output": string}`);
    }
    return { input: item.input, output: item.output };
  });
}

function positive(value: unknown, path: string, file: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw new ProblemFileError(file, `${path} must be a positive number`);
  return value;
}

export function taskFileTask(text: string, file: string, id = file): StdioTask {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ProblemFileError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ProblemFileError(file, "a task file holds one JSON object");
  const r = raw as Record<string, unknown>;
  if (r.kind !== "stdio") throw new ProblemFileError(file, `"kind" must be "stdio" (a stdin/stdout problem), got ${JSON.stringify(r.kind)}`);
  if (typeof r.statement !== "string" || r.statement.trim() === "") throw new ProblemFileError(file, `"statement" must be a non-empty string`);
  const publicTests = tests(r.publicTests, "publicTests", file);
  if (publicTests.length === 0) throw new ProblemFileError(file, `"publicTests" needs at least one test: they are what the model's code runs on`);
  const privateTests = r.privateTests === undefined ? [] : tests(r.privateTests, "privateTests", file);
  const language = r.language === undefined ? "python" : r.language;
  if (!LANGUAGES.includes(language as Language)) throw new ProblemFileError(file, `"language" must be one of ${LANGUAGES.join(", ")}`);
  const checker = (r.checker ?? {}) as Record<string, unknown>;
  if (typeof checker !== "object" || checker === null) throw new ProblemFileError(file, `"checker" must be an object`);
  const mode = checker.mode === undefined ? "tokens" : checker.mode;
  if (!MODES.includes(mode as JudgeMode)) throw new ProblemFileError(file, `"checker.mode" must be one of ${MODES.join(", ")}`);
  const limits = (r.limits ?? {}) as Record<string, unknown>;
  const task: StdioTask = {
    kind: "stdio",
    id: typeof r.id === "string" && r.id ? r.id : id,
    set: "user",
    language: language as Language,
    statement: r.statement,
    publicTests,
    privateTests,
    checker: { mode: mode as JudgeMode },
    limits: {
      timeMs: positive(limits.timeMs, "limits.timeMs", file, DEFAULT_LIMITS.timeMs),
      memoryBytes: positive(limits.memoryBytes, "limits.memoryBytes", file, DEFAULT_LIMITS.memoryBytes),
    },
  };
  if (checker.floatTolerance !== undefined) task.checker.floatTolerance = positive(checker.floatTolerance, "checker.floatTolerance", file, 1e-6);
  if (checker.caseInsensitive !== undefined) {
    if (typeof checker.caseInsensitive !== "boolean") throw new ProblemFileError(file, `"checker.caseInsensitive" must be true or false`);
    task.checker.caseInsensitive = checker.caseInsensitive;
  }
  return task;
}

/** A problem from a user's file: JSON task files by extension, Markdown/text problem statements otherwise. */
export function userProblemTask(text: string, file: string, id = file): StdioTask {
  return /\.json$/i.test(file) ? taskFileTask(text, file, id) : problemFileTask(text, file, id);
}
