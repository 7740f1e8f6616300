// Workspace tests: a temporary copy of what the run needs, the candidate written in, the test command run,
// failures read from the runner's machine-readable report.
import type { WorkspaceTask, RunReport } from "../types";
import type { RunOptions } from "./options";

export async function runWorkspaceTests(_task: WorkspaceTask, _code: string, _opts: RunOptions): Promise<RunReport> {
  throw new Error("runWorkspaceTests: not implemented yet");
}
