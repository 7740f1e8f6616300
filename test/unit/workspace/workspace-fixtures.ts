// Fixture projects for workspace-test runs: the committed ones under test/fixtures/workspaces, used in
// place (read only), and temporary copies wired to the repo's node_modules for jest and vitest.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_LIMITS, type Language, type TestRunner, type WorkspaceTask } from "../../../server/env/types";

export const FIXTURES_DIR = join(__dirname, "..", "..", "fixtures", "workspaces");
export const REPO_NODE_MODULES = join(__dirname, "..", "..", "..", "node_modules");
/** Generous: six engineers share two cores, and a limit hit here would flip a verdict, not a timing. */
export const GENEROUS_LIMITS = { ...DEFAULT_LIMITS, timeMs: 120_000 };

export function fixturePath(name: string): string {
  return join(FIXTURES_DIR, name);
}

export function fixtureFile(project: string, file: string): string {
  return readFileSync(join(FIXTURES_DIR, project, file), "utf8");
}

/** A temporary copy of a fixture project whose node_modules links to the repo's. Remove with `rmSync`. */
export function copyWithNodeModules(project: string): string {
  const root = mkdtempSync(join(tmpdir(), `rlef-ws-${project}-`));
  cpSync(fixturePath(project), root, { recursive: true });
  symlinkSync(REPO_NODE_MODULES, join(root, "node_modules"));
  return root;
}

export function removeTree(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

export function workspaceTask(
  root: string,
  runner: TestRunner,
  command: string[],
  target: WorkspaceTask["target"],
  overrides: Partial<WorkspaceTask> = {},
): WorkspaceTask {
  const language: Language = runner === "pytest" ? "python" : "javascript";
  return { kind: "workspace", id: `ws-${runner}`, set: "workspace", language, root, target, runner, command, limits: GENEROUS_LIMITS, ...overrides };
}
