// stdin/stdout tasks: one sandboxed process per test input, judged by the task's checker.
import type { StdioTask, RunReport } from "../types";
import type { RunOptions } from "./options";

export async function runStdioTests(_task: StdioTask, _code: string, _opts: RunOptions): Promise<RunReport> {
  throw new Error("runStdioTests: not implemented yet");
}
