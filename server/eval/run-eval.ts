// Runs an evaluation: for every task and mode, `draws` fresh draws, each appended to a JSONL results file as
// it finishes, so an interrupted evaluation resumes where it stopped (completed draws are not redone).
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Task } from "../env/types";
import type { Policy } from "../policy/types";
import { modeName, runDraw, type DrawOptions, type EvalMode } from "./procedure";
import { solveRate, type SolveRate } from "./stats";

export const EVAL_RESULTS_VERSION = 1;

export interface EvalConfig {
  set: string;
  modes: EvalMode[];
  draws: number;
  seed: number;
  randomFeedback: boolean;
  policy: string;
  sampling: { temperature: number; topP: number; topK?: number; repetitionPenalty?: number; maxTokens: number };
  taskIds: string[];
}

export interface DrawRecord {
  mode: string;
  taskId: string;
  draw: number;
  solved: boolean;
  samples: number;
  rollouts: number;
}

export interface EvalSummary {
  config: EvalConfig;
  modes: { mode: string; solveRate: SolveRate; meanSamples: number }[];
  records: DrawRecord[];
  resumed: number;
}

export class ResultsFileError extends Error {}

function fingerprint(config: EvalConfig): string {
  return createHash("sha256").update(JSON.stringify(config)).digest("hex").slice(0, 16);
}

/** Reads the completed draws of a results file, checking that it belongs to this very evaluation. */
function readResults(path: string, config: EvalConfig): DrawRecord[] {
  const lines = readFileSync(path, "utf8").split("\n");
  let header: { version?: unknown; fingerprint?: unknown };
  try {
    header = JSON.parse(lines[0]) as typeof header;
  } catch {
    throw new ResultsFileError(`${path}: line 1 is not an evaluation header; use another --out file`);
  }
  if (header.version !== EVAL_RESULTS_VERSION || header.fingerprint !== fingerprint(config)) {
    throw new ResultsFileError(`${path} holds a different evaluation (other set, modes, draws, seed, model or sampling); use another --out file`);
  }
  const records: DrawRecord[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    try {
      const r = JSON.parse(line) as DrawRecord;
      if (typeof r.mode !== "string" || typeof r.taskId !== "string" || typeof r.draw !== "number" || typeof r.solved !== "boolean") throw new Error("bad fields");
      records.push(r);
    } catch {
      // The last line may be cut by a kill mid-write: it is redone. Any other bad line is corruption.
      if (i === lines.length - 1 || lines.slice(i + 1).every((l) => l.trim() === "")) break;
      throw new ResultsFileError(`${path}: line ${i + 1} is not a draw record`);
    }
  }
  return records;
}

export interface EvalRunOptions {
  drawOptions: DrawOptions;
  /** JSONL results file; resumed when it exists and matches the config. */
  resultsFile?: string;
  onProgress?: (done: number, total: number, record: DrawRecord | null) => void;
  signal?: AbortSignal;
}

export async function runEvaluation(tasks: readonly Task[], policy: Policy, config: EvalConfig, options: EvalRunOptions): Promise<EvalSummary> {
  const records: DrawRecord[] = [];
  const file = options.resultsFile;
  if (file && existsSync(file) && readFileSync(file, "utf8").trim() !== "") {
    records.push(...readResults(file, config));
    // Rewrite without a possibly cut last line, so appends start on a fresh line.
    writeFileSync(file, [JSON.stringify({ version: EVAL_RESULTS_VERSION, fingerprint: fingerprint(config), config }), ...records.map((r) => JSON.stringify(r))].join("\n") + "\n");
  } else if (file) {
    writeFileSync(file, JSON.stringify({ version: EVAL_RESULTS_VERSION, fingerprint: fingerprint(config), config }) + "\n");
  }
  const resumed = records.length;
  const done = new Set(records.map((r) => `${r.mode}\u0000${r.taskId}\u0000${r.draw}`));
  const total = config.modes.length * tasks.length * config.draws;
  options.onProgress?.(records.length, total, null);

  for (const mode of config.modes) {
    const name = modeName(mode);
    for (const task of tasks) {
      for (let draw = 0; draw < config.draws; draw++) {
        if (done.has(`${name}\u0000${task.id}\u0000${draw}`)) continue;
        options.signal?.throwIfAborted();
        const seed = config.seed + draw * 7919;
        const result = await runDraw(task, policy, mode, { ...options.drawOptions, seed, signal: options.signal });
        options.signal?.throwIfAborted();
        const record: DrawRecord = { mode: name, taskId: task.id, draw, ...result };
        records.push(record);
        if (file) appendFileSync(file, JSON.stringify(record) + "\n");
        options.onProgress?.(records.length, total, record);
      }
    }
  }
  return { config, modes: summarize(config, records), records, resumed };
}

export function summarize(config: EvalConfig, records: readonly DrawRecord[]): EvalSummary["modes"] {
  return config.modes.map((mode) => {
    const name = modeName(mode);
    const mine = records.filter((r) => r.mode === name);
    const perTask = config.taskIds.map((id) => mine.filter((r) => r.taskId === id).map((r) => r.solved));
    const meanSamples = mine.length ? mine.reduce((s, r) => s + r.samples, 0) / mine.length : 0;
    return { mode: name, solveRate: solveRate(perTask, { seed: config.seed }), meanSamples };
  });
}
