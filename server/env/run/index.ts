// The one entry point that runs a candidate program against a task's tests, whatever the task kind.
import type { Task, RunReport } from "../types";
import type { RunOptions } from "./options";
import { runPythonFunctionTests } from "./python-function";
import { runStdioTests } from "./stdio";
import { runJsFunctionTests } from "./js-function";
import { runWorkspaceTests } from "./workspace";

export type { RunOptions } from "./options";

export function runTests(task: Task, code: string, opts: RunOptions): Promise<RunReport> {
  switch (task.kind) {
    case "stdio":
      return runStdioTests(task, code, opts);
    case "function":
      return task.language === "python" ? runPythonFunctionTests(task, code, opts) : runJsFunctionTests(task, code, opts);
    case "workspace":
      return runWorkspaceTests(task, code, opts);
  }
}
