// Random-feedback ablation (spec/rlef.md §5, spec/environment.md "Episodes"): the feedback a turn shows
// is replaced by the feedback that a fixed wrong program gets on the public tests of ANOTHER task of the
// same set. The donor task is chosen by a hash of (episode seed, task id, turn) over the candidates sorted
// by id, so every environment server, and a resumed run, picks the same donor.
import { createHash } from "node:crypto";
import { formatFeedback } from "./feedback";
import type { RunTestsFn } from "./episode";
import type { FunctionTask, Task } from "./types";

/** A program that is wrong for (almost) every task: prints nothing, or returns None / undefined. */
export function fixedWrongProgram(task: Task): string {
  if (task.kind === "workspace") throw new Error("random feedback is not offered for workspace tasks");
  if (task.kind === "stdio") return task.language === "python" ? "# prints nothing\npass\n" : "// prints nothing\n";
  return wrongFunction(task);
}

function wrongFunction(task: FunctionTask): string {
  // LeetCode-style entry points name a method of a class: `Solution().twoSum` or `Solution.twoSum`.
  const method = /^([A-Za-z_$][\w$]*)(?:\(\))?\.([A-Za-z_$][\w$]*)$/.exec(task.entryPoint);
  if (task.language === "python") {
    if (method) return `class ${method[1]}:\n    def ${method[2]}(self, *args, **kwargs):\n        return None\n`;
    return `def ${task.entryPoint}(*args, **kwargs):\n    return None\n`;
  }
  const params = task.language === "typescript" ? "...args: any[]): any" : "...args)";
  if (method) return `class ${method[1]} {\n  ${method[2]}(${params} {\n    return undefined;\n  }\n}\n`;
  return `function ${task.entryPoint}(${params} {\n  return undefined;\n}\n`;
}

/** Index in [0, count) from a SHA-256 of the triple; identical on every machine and Node version. */
export function donorIndex(seed: number, taskId: string, turn: number, count: number): number {
  if (count <= 0) throw new RangeError("donorIndex: no candidates");
  const digest = createHash("sha256").update(JSON.stringify([seed, taskId, turn])).digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(count));
}

export interface DonorFeedback {
  donorTaskId: string;
  feedback: string;
}

/** Donor feedback for the tasks of one set. Results are cached per donor task (the wrong program is fixed). */
export class RandomFeedbackDonor {
  private readonly candidates: Task[];
  private readonly cache = new Map<string, Promise<string | null>>();

  constructor(
    setTasks: readonly Task[],
    private readonly runTests: RunTestsFn,
  ) {
    this.candidates = setTasks
      .filter((t) => t.kind !== "workspace" && publicTestCount(t) > 0)
      .slice()
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * The donor feedback for one turn. Starting at the hashed index, the first candidate (other than the task
   * itself, from the same set) on whose public tests the wrong program actually fails is used.
   */
  /** Whether any other task of `task`'s set can lend feedback (checked at reset, so a step never fails on it). */
  hasDonorsFor(task: Task): boolean {
    return this.poolFor(task).length > 0;
  }

  async feedbackFor(task: Task, seed: number, turn: number): Promise<DonorFeedback> {
    const pool = this.poolFor(task);
    if (pool.length === 0) {
      throw new Error(`random feedback: set "${task.set}" has no other task with public tests to take feedback from`);
    }
    const start = donorIndex(seed, task.id, turn, pool.length);
    for (let k = 0; k < pool.length; k++) {
      const donor = pool[(start + k) % pool.length];
      const feedback = await this.donorFeedbackText(donor);
      if (feedback !== null) return { donorTaskId: donor.id, feedback };
    }
    throw new Error(`random feedback: the fixed wrong program passes every candidate of set "${task.set}"`);
  }

  private poolFor(task: Task): Task[] {
    return this.candidates.filter((t) => t.id !== task.id && t.set === task.set);
  }

  private donorFeedbackText(donor: Task): Promise<string | null> {
    let cached = this.cache.get(donor.id);
    if (!cached) {
      cached = this.runTests(donor, fixedWrongProgram(donor), "public").then((report) =>
        report.passed && report.error === undefined ? null : formatFeedback(donor, { kind: "run", report }),
      );
      // A failed run (e.g. sandbox trouble) must not poison the cache for later turns.
      void cached.catch(() => this.cache.delete(donor.id));
      this.cache.set(donor.id, cached);
    }
    return cached;
  }
}

function publicTestCount(t: Task): number {
  return t.kind === "workspace" ? 0 : t.publicTests.length;
}
