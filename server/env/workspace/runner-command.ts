// The test command as it runs in the sandbox: the user's command in a form the sandbox can start
// (no shims, no npx), plus the flags that make the runner write its machine-readable report and
// leave no caches behind.
import type { TestRunner } from "../types";
import { NODE_TEST_REPORTER_SOURCE } from "./node-test-reporter";

export interface RunnerCommand {
  argv: string[];
  env: Record<string, string>;
  /** Files the run needs beside the project's (our `node --test` reporter), by relative path. */
  files: Record<string, string>;
}

export class UnsupportedCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsupportedCommandError";
  }
}

/** The command each runner gets when the task does not name one. */
export const DEFAULT_COMMANDS: Record<Exclude<TestRunner, "command">, string[]> = {
  pytest: ["python3", "-m", "pytest"],
  "node-test": ["node", "--test"],
  jest: ["node", "node_modules/jest/bin/jest.js"],
  vitest: ["node", "node_modules/vitest/vitest.mjs", "run"],
};

const PYTHON = /^python(3(\.\d+)?)?$/;
const JS_ENTRY = { jest: "node_modules/jest/bin/jest.js", vitest: "node_modules/vitest/vitest.mjs" } as const;

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Rewrites launcher forms (`pytest`, `npx jest`, `node_modules/.bin/vitest`) to a real interpreter call. */
export function normalizeCommand(runner: TestRunner, command: string[]): string[] {
  if (command.length === 0 || command.some((arg) => typeof arg !== "string" || arg.includes("\0"))) {
    throw new UnsupportedCommandError("the test command must be a non-empty list of strings without NUL bytes");
  }
  const [head, ...rest] = command;
  switch (runner) {
    case "pytest":
      if (head === "pytest" || head === "py.test") return ["python3", "-m", "pytest", ...rest];
      if (PYTHON.test(basename(head)) && rest[0] === "-m" && rest[1] === "pytest") return command;
      throw new UnsupportedCommandError(`the pytest runner needs a command like "pytest" or "python3 -m pytest", got ${JSON.stringify(command.join(" "))}`);
    case "node-test":
      if (basename(head) === "node" && rest.includes("--test")) return command;
      throw new UnsupportedCommandError(`the node-test runner needs a command like "node --test", got ${JSON.stringify(command.join(" "))}`);
    case "jest":
    case "vitest": {
      const tool = runner;
      const args = head === "npx" ? rest : command;
      const [launcher, ...toolArgs] = args;
      if (launcher === tool || launcher === `node_modules/.bin/${tool}` || launcher === `./node_modules/.bin/${tool}`) {
        return ["node", JS_ENTRY[tool], ...toolArgs];
      }
      if (basename(launcher ?? "") === "node") return args;
      throw new UnsupportedCommandError(`the ${tool} runner needs a command like "${tool}" or "npx ${tool}", got ${JSON.stringify(command.join(" "))}`);
    }
    case "command":
      return command;
  }
}

/**
 * The command with the report flags for `runner`. `reportPath` is relative to the run's working
 * directory (the project copy), where the runner starts.
 */
export function withReportFlags(runner: TestRunner, command: string[], reportPath: string): RunnerCommand {
  const argv = normalizeCommand(runner, command);
  // CI makes jest and vitest non-interactive; colours would only add escape codes to the output tail.
  const env: Record<string, string> = { CI: "1", NO_COLOR: "1", FORCE_COLOR: "0" };
  switch (runner) {
    case "pytest":
      env.PYTHONDONTWRITEBYTECODE = "1";
      // xunit1 records each test's file, which the node id needs.
      return { argv: [...argv, "-p", "no:cacheprovider", "-o", "junit_family=xunit1", `--junitxml=${reportPath}`], env, files: {} };
    case "node-test": {
      const reporter = `${reportPath.replace(/\.[^./]+$/, "")}-reporter.mjs`;
      // Reporter options belong to node itself, so they go before the test files; `./` marks a file, not a package.
      const [node, ...rest] = argv;
      const reporters = [`--test-reporter=./${reporter}`, `--test-reporter-destination=${reportPath}`, "--test-reporter=spec", "--test-reporter-destination=stdout"];
      return { argv: [node, ...reporters, ...rest], env, files: { [reporter]: NODE_TEST_REPORTER_SOURCE } };
    }
    case "jest":
      return { argv: [...argv, "--ci", "--runInBand", "--no-watchman", "--json", `--outputFile=${reportPath}`], env, files: {} };
    case "vitest": {
      // `vitest` alone would watch; `run` is a single pass.
      const [node, entry, ...rest] = argv;
      const run = rest[0] === "run" ? rest : ["run", ...rest];
      return { argv: [node, entry, ...run, "--reporter=json", `--outputFile=${reportPath}`], env, files: {} };
    }
    case "command":
      return { argv, env, files: {} };
  }
}

/** The file extension of each runner's report. */
export function reportExtension(runner: TestRunner): string {
  if (runner === "pytest") return "xml";
  return runner === "node-test" ? "jsonl" : "json";
}
