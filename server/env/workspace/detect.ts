// Which test runner a project uses, read from its files: package.json (test script, then
// dependencies) for jest, vitest and `node --test`; pytest's configuration or test files for pytest.
// Detection only proposes; a task or setting that names a runner wins.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestRunner } from "../types";
import { DEFAULT_COMMANDS } from "./runner-command";

export interface DetectedRunner {
  runner: Exclude<TestRunner, "command">;
  command: string[];
  /** What gave it away, for the user: e.g. "package.json scripts.test runs vitest". */
  reason: string;
}

const PYTEST_TEST_FILE = /^(test_.*|.*_test)\.py$/;

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return null;
  }
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

function detected(runner: DetectedRunner["runner"], reason: string): DetectedRunner {
  return { runner, command: DEFAULT_COMMANDS[runner], reason };
}

function fromPackageJson(text: string): DetectedRunner | null {
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof manifest !== "object" || manifest === null) return null;
  const { scripts, dependencies, devDependencies } = manifest as Record<string, unknown>;
  const testScript = typeof scripts === "object" && scripts !== null ? (scripts as Record<string, unknown>).test : undefined;
  if (typeof testScript === "string") {
    if (/\bvitest\b/.test(testScript)) return detected("vitest", "package.json scripts.test runs vitest");
    if (/\bjest\b/.test(testScript)) return detected("jest", "package.json scripts.test runs jest");
    if (/\bnode\b.*\s--test\b/.test(testScript)) return detected("node-test", "package.json scripts.test runs node --test");
  }
  const has = (name: string): boolean =>
    [dependencies, devDependencies].some((deps) => typeof deps === "object" && deps !== null && name in deps);
  if (has("vitest")) return detected("vitest", "package.json depends on vitest");
  if (has("jest")) return detected("jest", "package.json depends on jest");
  return null;
}

async function fromPythonFiles(root: string): Promise<DetectedRunner | null> {
  const names = await listNames(root);
  if (names.includes("pytest.ini")) return detected("pytest", "pytest.ini");
  if (names.includes("conftest.py")) return detected("pytest", "conftest.py");
  const pyproject = names.includes("pyproject.toml") ? await readText(join(root, "pyproject.toml")) : null;
  if (pyproject && /^\[tool\.pytest(\.ini_options)?\]/m.test(pyproject)) return detected("pytest", "pyproject.toml [tool.pytest.ini_options]");
  for (const [file, section] of [["setup.cfg", "[tool:pytest]"], ["tox.ini", "[pytest]"]] as const) {
    const text = names.includes(file) ? await readText(join(root, file)) : null;
    if (text?.includes(section)) return detected("pytest", `${file} ${section}`);
  }
  for (const dir of ["", "tests", "test"]) {
    const inDir = dir === "" ? names : await listNames(join(root, dir));
    const testFile = inDir.find((name) => PYTEST_TEST_FILE.test(name));
    if (testFile) return detected("pytest", `test file ${dir === "" ? testFile : `${dir}/${testFile}`}`);
  }
  return null;
}

/** Proposes a runner for the project at `root`, or null when nothing says which one. */
export async function detectTestRunner(root: string): Promise<DetectedRunner | null> {
  const manifest = await readText(join(root, "package.json"));
  const fromManifest = manifest === null ? null : fromPackageJson(manifest);
  if (fromManifest) return fromManifest;
  const python = await fromPythonFiles(root);
  if (python) return python;
  // A package.json without a test framework: Node's built-in runner needs nothing installed.
  if (manifest !== null) return detected("node-test", "package.json without jest or vitest");
  return null;
}
