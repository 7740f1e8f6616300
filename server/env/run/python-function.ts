// Function-level Python tasks: one sandboxed process per run holding a harness that runs each case on its own.
import type { FunctionTask, RunReport } from "../types";
import type { RunOptions } from "./options";

export async function runPythonFunctionTests(_task: FunctionTask, _code: string, _opts: RunOptions): Promise<RunReport> {
  throw new Error("runPythonFunctionTests: not implemented yet");
}
