// Building a workspace-tests task from what the editor or the CLI knows: a project folder, the file
// (and maybe lines) to change, and optionally the runner and command; the rest is detected.
import { isAbsolute } from "node:path";
import { DEFAULT_LIMITS, type Language, type Limits, type TestRunner, type WorkspaceTask } from "../types";
import { checkTargetPath, type WorkspaceTarget } from "./candidate";
import { detectTestRunner } from "./detect";
import { DEFAULT_COMMANDS, normalizeCommand } from "./runner-command";

/** A whole workspace run (every test of the command), not one test: a minute unless configured. */
export const DEFAULT_WORKSPACE_LIMITS: Limits = { timeMs: 60_000, memoryBytes: DEFAULT_LIMITS.memoryBytes };

export interface WorkspaceTaskRequest {
  id: string;
  root: string;
  target: WorkspaceTarget;
  /** Detected from the project when absent. */
  runner?: TestRunner;
  /** The runner's default command when absent. */
  command?: string[];
  readOnlyDirs?: string[];
  heldOutCommand?: string[];
  limits?: Limits;
}

function languageOf(file: string): Language {
  if (/\.py$/.test(file)) return "python";
  if (/\.[cm]?tsx?$/.test(file)) return "typescript";
  return "javascript";
}

/** Throws with a message a user can act on when no runner is given and none can be detected. */
export async function buildWorkspaceTask(request: WorkspaceTaskRequest): Promise<WorkspaceTask> {
  if (!isAbsolute(request.root)) throw new Error(`the project root ${JSON.stringify(request.root)} must be an absolute path`);
  const file = checkTargetPath(request.target.file);
  let runner = request.runner;
  let command = request.command;
  if (!runner) {
    const detected = await detectTestRunner(request.root);
    if (!detected) {
      throw new Error(
        `cannot tell which test runner ${request.root} uses (no pytest configuration or test files, no package.json); ` +
          `name one: pytest, node-test, jest, vitest, or command with the command to run`,
      );
    }
    runner = detected.runner;
    command ??= detected.command;
  }
  if (!command) {
    if (runner === "command") throw new Error("the runner `command` needs the command to run");
    command = DEFAULT_COMMANDS[runner];
  }
  normalizeCommand(runner, command); // refuse now what could not run later
  return {
    kind: "workspace",
    id: request.id,
    set: "workspace",
    language: languageOf(file),
    root: request.root,
    target: { ...request.target, file },
    runner,
    command,
    ...(request.readOnlyDirs ? { readOnlyDirs: request.readOnlyDirs } : {}),
    ...(request.heldOutCommand ? { heldOutCommand: request.heldOutCommand } : {}),
    limits: request.limits ?? DEFAULT_WORKSPACE_LIMITS,
  };
}
