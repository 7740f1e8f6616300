// Expected outputs of differential-testing cases (HumanEval+/MBPP+ plus inputs), computed by running the
// trusted reference solution in its own sandboxed process (never in the candidate's), then cached in memory
// and on disk, keyed by a hash of everything that determines them.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { FunctionTask } from "../types";
import type { Sandbox } from "../sandbox/types";
import { harnessScript, runHarness, type HarnessCase } from "./python-harness-run";

export class ReferenceFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReferenceFailure";
  }
}

const memoryCache = new Map<string, string[]>();

/** Cache folder: $RLEF_CACHE_DIR/expected-outputs, else ~/.cache/rlef/expected-outputs. */
export function expectedOutputsDir(): string {
  const base = process.env.RLEF_CACHE_DIR || join(homedir(), ".cache", "rlef");
  return join(base, "expected-outputs");
}

function cacheKey(task: FunctionTask, argsJson: string[]): string {
  const h = createHash("sha256");
  for (const part of [harnessScript(), task.candidatePrelude ?? "", task.referenceSolution ?? "", task.entryPoint, JSON.stringify(task.comparison ?? {})]) {
    h.update(part).update("\0");
  }
  for (const a of argsJson) h.update(a).update("\n");
  return h.digest("hex");
}

async function readCached(file: string, count: number): Promise<string[] | null> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
    if (Array.isArray(parsed) && parsed.length === count && parsed.every((v) => typeof v === "string")) return parsed as string[];
  } catch {
    // absent or unreadable: recompute
  }
  return null;
}

/** Tagged-JSON expected values, one per argument list, in order. Throws ReferenceFailure when the reference fails. */
export async function expectedOutputs(
  task: FunctionTask,
  argsJson: string[],
  sandbox: Sandbox,
  caseTimeMs: number,
  signal?: AbortSignal,
): Promise<string[]> {
  if (argsJson.length === 0) return [];
  if (!task.referenceSolution) throw new ReferenceFailure(`${task.id}: call cases without expected outputs need a reference solution`);
  const key = cacheKey(task, argsJson);
  const remembered = memoryCache.get(key);
  if (remembered) return remembered;
  const file = join(expectedOutputsDir(), `${key}.json`);
  const cached = await readCached(file, argsJson.length);
  if (cached) {
    memoryCache.set(key, cached);
    return cached;
  }
  const cases: HarnessCase[] = argsJson.map((a, index) => ({ index, kind: "call", argsJson: a }));
  const { results } = await runHarness(
    sandbox,
    { mode: "record", prelude: task.candidatePrelude, candidate: task.referenceSolution, entryPoint: task.entryPoint, comparison: task.comparison },
    cases,
    { caseTimeMs, memoryBytes: task.limits.memoryBytes, budgetMs: caseTimeMs * 4 + 60_000 * Math.ceil(argsJson.length / 500) },
    signal,
  );
  const values: string[] = [];
  for (const r of results) {
    if (r.outcome !== "passed" || r.valueJson === undefined) {
      throw new ReferenceFailure(
        `${task.id}: the reference solution did not produce an expected output for input #${r.index} ${argsJson[r.index]}: ${r.outcome}${r.trace ? `\n${r.trace}` : ""}`,
      );
    }
    values.push(r.valueJson);
  }
  memoryCache.set(key, values);
  try {
    await mkdir(expectedOutputsDir(), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(values));
    await rename(tmp, file);
  } catch {
    // The disk cache is an optimisation; the values are correct without it.
  }
  return values;
}
