// A built-in benchmark set: how to load it from ../shared/benchmarks and how `rlef verify` checks it.
import type { Task } from "../types";

/** A malformed record: reported with file and line, never silently dropped. */
export interface RecordError {
  file: string;
  /** 1-based line number in the (decompressed) JSONL file. */
  line: number;
  message: string;
}

export interface LoadResult {
  tasks: Task[];
  errors: RecordError[];
}

/** A program `rlef verify` runs against a task, and the verdict it must get. */
export interface VerificationProgram {
  /** e.g. "reference", "mutant: '+' -> '-' at line 3", "known answer", "other root", "reformatted whitespace". */
  label: string;
  code: string;
  mustPass: boolean;
}

export interface BenchmarkSet {
  /** Built-in name used on the command line, e.g. `humaneval`, `mbpp_plus`, `codecontests`. */
  name: string;
  /** Folder and file inside the benchmarks root. */
  file: string;
  /** Licence allows training on it (spec: CodeContests subset, APPS, Code Jam, MBPP ids not in MBPP+). */
  trainable: boolean | "partly";
  load(benchmarksRoot: string): Promise<LoadResult>;
  /** Programs verify runs for one task: a reference (or known answer) that must pass, mutants that must fail. */
  verificationPrograms(task: Task): VerificationProgram[];
}
