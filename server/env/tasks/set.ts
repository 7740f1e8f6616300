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

interface BenchmarkSetData {
  /** Built-in name used on the command line, e.g. `humaneval`, `mbpp_plus`, `codecontests`. */
  name: string;
  /** Folder and file inside the benchmarks root. */
  file: string;
  load(benchmarksRoot: string): Promise<LoadResult>;
  /** Programs verify runs for one task: a reference (or known answer) that must pass, mutants that must fail. */
  verificationPrograms(task: Task): VerificationProgram[];
}

/**
 * Whether the licence allows training on the set (spec: CodeContests subset, APPS, Code Jam, MBPP ids not in
 * MBPP+). A set that is only partly trainable must say which of its tasks are not, so that no caller can
 * mistake it for all-trainable.
 */
export type TrainingLicence =
  | { trainable: boolean }
  | {
      trainable: "partly";
      /** Ids of this set's tasks that may not be trained on (they may name tasks the set does not load). */
      excludedFromTraining(benchmarksRoot: string): Promise<Set<string>>;
    };

export type BenchmarkSet = BenchmarkSetData & TrainingLicence;

/** Task id -> whether it may be trained on, for the tasks of `set` (as loaded from `benchmarksRoot`). */
export async function trainableTasks(set: BenchmarkSet, taskIds: Iterable<string>, benchmarksRoot: string): Promise<Map<string, boolean>> {
  const excluded = set.trainable === "partly" ? await set.excludedFromTraining(benchmarksRoot) : undefined;
  return new Map([...taskIds].map((id) => [id, excluded ? !excluded.has(id) : set.trainable === true]));
}
