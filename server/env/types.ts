// The environment's core contracts: tasks, test outcomes and isolation reports.
// Everything that crosses a boundary (WebSocket, CLI --json, the trainer) is built from these.
// Version of these shapes as seen by other processes: bump on any incompatible change.
export const ENV_CONTRACT_VERSION = 1;

export type Language = "python" | "javascript" | "typescript";

/** How stdout is compared with the expected output (spec/environment.md, "Judging stdin/stdout output"). */
export type JudgeMode = "tokens" | "exact" | "lines";

export interface OutputChecker {
  mode: JudgeMode;
  /** Absolute-or-relative tolerance for tokens where either side has a decimal point or exponent. Default 1e-6. */
  floatTolerance?: number;
  /** Code Jam's default validator compares case-insensitively. */
  caseInsensitive?: boolean;
}

export interface Limits {
  /** Wall-clock limit per test (stdin/stdout) or per case (function-level), in ms. */
  timeMs: number;
  /** Resident memory limit in bytes (default 1 GiB). */
  memoryBytes: number;
}

export const DEFAULT_LIMITS: Limits = { timeMs: 10_000, memoryBytes: 1024 ** 3 };

export interface StdioTest {
  input: string;
  output: string;
}

/** A stdin/stdout program (CodeContests, Code Jam, APPS stdin, xCodeEval). */
export interface StdioTask {
  kind: "stdio";
  id: string;
  /** Built-in set name (`codecontests`, `codejam`, …) or `file` / `user`. */
  set: string;
  language: Language;
  statement: string;
  publicTests: StdioTest[];
  privateTests: StdioTest[];
  checker: OutputChecker;
  limits: Limits;
  referenceSolution?: string;
  /** Why a task is left out of multi-turn training/evaluation, e.g. "no-public-tests". */
  flags?: string[];
}

/**
 * One function-level test case.
 * - `assert`: a statement run on its own (an MBPP assert line, one line of a flat HumanEval check()).
 * - `script`: a block run as written (a HumanEval check() with loops or randomness, a JS test program).
 * - `call`: call the entry point with `argsJson` (lossless JSON text of the argument list) and compare the
 *   result with `expectedJson` (lossless JSON text), or with the reference solution's result when absent.
 */
export type FunctionTestCase =
  | { kind: "assert"; code: string }
  | { kind: "script"; code: string }
  | { kind: "call"; argsJson: string; expectedJson?: string };

/** EvalPlus's per-task comparison rules. */
export interface FunctionComparison {
  /** Absolute float tolerance; 0 means exact. */
  atol: number;
  /** "set": order-insensitive; "not-none": only checks the result is not None; "find-zero": |poly(x)| small. */
  rule?: "set" | "not-none" | "find-zero";
}

/** A function-level problem (HumanEval(+), MBPP(+), HumanEval-X JS, MultiPL-E, LeetCode, APPS call-based, Exercism). */
export interface FunctionTask {
  kind: "function";
  id: string;
  set: string;
  language: Language;
  /** The problem as the model sees it (signature + docstring, or statement). */
  prompt: string;
  entryPoint: string;
  /** Code run before the tests (MBPP's test_setup_code, imports a harness provides, JS shims). */
  testPreamble?: string;
  /** Code run before the candidate's own code (LeetCode's `from typing import *` and friends). */
  candidatePrelude?: string;
  publicTests: FunctionTestCase[];
  privateTests: FunctionTestCase[];
  comparison?: FunctionComparison;
  limits: Limits;
  /** A complete reference program (prompt + canonical body where the dataset splits them). */
  referenceSolution?: string;
  /** Extra files the tests need (Exercism fixtures), by relative path. */
  supportFiles?: Record<string, string>;
  /** Test framework for multi-file JS tasks (Exercism's Jest specs). */
  testFiles?: Record<string, string>;
  /** The file the solution is written to when the task has files (Exercism). */
  solutionFile?: string;
  flags?: string[];
}

export type TestRunner = "pytest" | "node-test" | "jest" | "vitest" | "command";

/** Tests in the user's workspace: a snapshot of what the run needs, the code to change, and a test command. */
export interface WorkspaceTask {
  kind: "workspace";
  id: string;
  set: "workspace";
  language: Language;
  /** Absolute path of the project root; never written to. */
  root: string;
  /** What the model may change: a file (relative to root) and optionally a 1-based inclusive line range. */
  target: { file: string; startLine?: number; endLine?: number; symbol?: string };
  runner: TestRunner;
  /** The test command, argv form, run from `root` (in the sandbox's copy). */
  command: string[];
  /** Folders mounted read-only instead of copied (node_modules, virtual environments), relative to root. */
  readOnlyDirs?: string[];
  /** An optional held-out command whose results only score (private tests). */
  heldOutCommand?: string[];
  limits: Limits;
  flags?: string[];
}

export type Task = StdioTask | FunctionTask | WorkspaceTask;

/** The four failure kinds of the paper's feedback, plus success. */
export type Outcome = "passed" | "wrong_answer" | "exception" | "timeout" | "out_of_memory";

export type Visibility = "public" | "private";

export interface TestResult {
  /** Index within its visibility group. */
  index: number;
  visibility: Visibility;
  outcome: Outcome;
  /** Human-readable test (stdin text, the assert, the call). Untruncated; feedback truncates. */
  input: string;
  expected?: string;
  actual?: string;
  /** Stack trace or error text (already trimmed to the user's code). */
  trace?: string;
  /** The program's output exceeded the cap and was cut. */
  outputTruncated?: boolean;
  durationMs: number;
  /** Test name for workspace tests (e.g. `tests/test_x.py::test_add`). */
  name?: string;
}

export type IsolationMode = "bwrap+cgroup" | "bwrap" | "none";

/** Which protections were actually active for a run; every result carries one. */
export interface IsolationReport {
  mode: IsolationMode;
  /** e.g. ["namespaces", "no-network", "read-only-system", "memory-cgroup", "pids-cgroup", "rlimits"] */
  enforced: string[];
  /** What could not be enforced here, and why, e.g. ["memory-cgroup: cgroup v2 without delegation"]. */
  missing: string[];
}

export interface RunReport {
  taskId: string;
  results: TestResult[];
  passed: boolean;
  isolation: IsolationReport;
  /** Set when the whole run failed before tests (e.g. the TypeScript compile failed). */
  error?: string;
  /** Set for workspace tests whose runner had no machine-readable report (fallback mode). */
  fallback?: boolean;
}
