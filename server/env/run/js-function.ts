// Function-level JavaScript/TypeScript tasks under Node (TypeScript compiled with the `typescript` package).
import type { FunctionTask, RunReport } from "../types";
import type { RunOptions } from "./options";

export async function runJsFunctionTests(_task: FunctionTask, _code: string, _opts: RunOptions): Promise<RunReport> {
  throw new Error("runJsFunctionTests: not implemented yet");
}
