// A training run's folder as the trainer leaves it (trainer/rlef_trainer/train.py): metrics.jsonl (one metrics
// object per iteration), eval.jsonl (one evaluation record per evaluation) and config.json (the run's
// settings, of which the dashboard reads `iterations`). The trainer appends whole lines; one killed mid-write
// can leave a torn last line, which is ignored (the trainer itself drops it when the run resumes). Any other
// line that does not parse is an error naming the file and the line.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseEvaluationRecord, parseIterationMetrics, type EvaluationRecord, type IterationMetrics } from "./records";

export const METRICS_FILE = "metrics.jsonl";
export const EVAL_FILE = "eval.jsonl";
export const CONFIG_FILE = "config.json";

export interface RunRecords {
  metrics: IterationMetrics[];
  evaluations: EvaluationRecord[];
  /** The run's planned iterations, from config.json; null where there is none yet. */
  iterations: number | null;
}

export class RunFolderError extends Error {
  override name = "RunFolderError";
}

/** Reads a run folder; throws RunFolderError with the file (and line) at fault. Missing files count as empty. */
export async function readRunFolder(dir: string): Promise<RunRecords> {
  const folder = await stat(dir).catch(() => null);
  if (!folder?.isDirectory()) throw new RunFolderError(`${dir} is not a folder`);
  const [metricsText, evalText, configText] = await Promise.all([METRICS_FILE, EVAL_FILE, CONFIG_FILE].map((f) => readIfPresent(join(dir, f))));
  if (metricsText === null && evalText === null && configText === null) {
    throw new RunFolderError(`${dir} is not a training run's folder: it has none of ${METRICS_FILE}, ${EVAL_FILE}, ${CONFIG_FILE}`);
  }
  return {
    metrics: parseJsonLines(join(dir, METRICS_FILE), metricsText ?? "", parseIterationMetrics),
    evaluations: parseJsonLines(join(dir, EVAL_FILE), evalText ?? "", parseEvaluationRecord),
    iterations: configText === null ? null : plannedIterations(join(dir, CONFIG_FILE), configText),
  };
}

/** The records of a JSON Lines file's text; blank lines are skipped, a torn last line (no newline, not JSON) too. */
export function parseJsonLines<T>(file: string, text: string, parse: (value: unknown, what: string) => T): T[] {
  const lines = text.split("\n");
  const torn = lines.pop() ?? ""; // after the last newline: "" for a whole file, else a line still being written
  const records: T[] = [];
  const take = (line: string, number: number, isLast: boolean) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      if (isLast) return; // torn by a writer that stopped mid-line
      throw new RunFolderError(`${file}, line ${number}: not valid JSON (${(err as Error).message})`);
    }
    try {
      records.push(parse(value, "record"));
    } catch (err) {
      throw new RunFolderError(`${file}, line ${number}: ${(err as Error).message}`);
    }
  };
  lines.forEach((line, i) => take(line, i + 1, false));
  take(torn, lines.length + 1, true);
  return records;
}

function plannedIterations(file: string, text: string): number | null {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new RunFolderError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const iterations = (config as { iterations?: unknown } | null)?.iterations;
  if (iterations === undefined) return null;
  if (typeof iterations !== "number" || !Number.isInteger(iterations) || iterations < 0) {
    throw new RunFolderError(`${file}: "iterations" must be a whole number, got ${JSON.stringify(iterations)}`);
  }
  return iterations;
}

async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new RunFolderError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * Calls `onChange` once at the start, then (at most once per `intervalMs`) whenever one of the run's files
 * is created, grows, shrinks, is replaced or removed. Polling, not a file-system watcher: it works the same on every platform,
 * network drive and remote host, and the files change once per iteration at most.
 */
export function watchRunFolder(dir: string, onChange: () => void, options: { intervalMs?: number } = {}): { dispose(): void } {
  const files = [METRICS_FILE, EVAL_FILE, CONFIG_FILE].map((f) => join(dir, f));
  let last: string | null = null;
  let busy = false;
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      const stats = await Promise.all(files.map((f) => stat(f).catch(() => null)));
      const signature = stats.map((s) => (s ? `${s.size}:${s.mtimeMs}:${s.ino}` : "-")).join("|");
      if (signature !== last) onChange();
      last = signature;
    } finally {
      busy = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), options.intervalMs ?? 1_000);
  timer.unref();
  return { dispose: () => clearInterval(timer) };
}
