// Everything a training dashboard shows about one run, kept current from either source: the trainer's live
// metrics stream, or the run's folder on disk (re-read when its files change). Each change hands a fresh
// snapshot to the caller, which only has to draw it.
import { openMetricsStream, type StreamMessage } from "./metrics-stream";
import type { EvaluationRecord, IterationMetrics } from "./records";
import { readRunFolder, watchRunFolder } from "./run-folder";

export type RunSource = { kind: "stream"; url: string } | { kind: "folder"; dir: string };

/** connecting → connected → done | disconnected for a stream; watching for a folder. */
export type RunStatus = "connecting" | "connected" | "done" | "disconnected" | "watching";

export interface RunSnapshot {
  source: RunSource;
  status: RunStatus;
  /** The run's out_dir, as the trainer names it (the folder itself for a folder source). */
  outDir: string | null;
  /** Planned iterations; null until known. */
  iterations: number | null;
  metrics: IterationMetrics[];
  evaluations: EvaluationRecord[];
  /** The latest problem (malformed message, unreadable file, lost connection), or null. */
  problem: string | null;
  /** When this snapshot was taken (ms since the epoch). */
  updatedAt: number;
}

export interface RunFollower {
  close(): void;
}

export function emptySnapshot(source: RunSource): RunSnapshot {
  return {
    source,
    status: source.kind === "stream" ? "connecting" : "watching",
    outDir: source.kind === "folder" ? source.dir : null,
    iterations: null,
    metrics: [],
    evaluations: [],
    problem: null,
    updatedAt: Date.now(),
  };
}

/** The snapshot after one stream message (a new object; `snapshot` is left as it was). */
export function applyStreamMessage(snapshot: RunSnapshot, message: StreamMessage): RunSnapshot {
  const next = { ...snapshot, updatedAt: Date.now() };
  switch (message.type) {
    case "hello":
      return { ...next, status: "connected", outDir: message.outDir, iterations: message.iterations };
    case "history":
      return { ...next, metrics: byIteration(message.metrics), evaluations: byIteration(message.evaluations) };
    case "iteration":
      return { ...next, metrics: byIteration([...snapshot.metrics, message.metrics]) };
    case "evaluation":
      return { ...next, evaluations: byIteration([...snapshot.evaluations, message.evaluation]) };
    case "done":
      return { ...next, status: "done" };
  }
}

/** Follows the trainer's metrics stream at `url` until it closes or `close()` is called. */
export function followMetricsStream(url: string, onSnapshot: (snapshot: RunSnapshot) => void): RunFollower {
  let snapshot = emptySnapshot({ kind: "stream", url });
  let closed = false;
  const emit = (next: RunSnapshot) => {
    snapshot = next;
    if (!closed) onSnapshot(snapshot);
  };
  emit(snapshot);
  const connection = openMetricsStream(url, {
    message: (message) => emit(applyStreamMessage(snapshot, message)),
    problem: (error) => emit({ ...snapshot, problem: error.message, updatedAt: Date.now() }),
    closed: ({ done, reason }) => {
      if (done || snapshot.status === "done") return;
      emit({ ...snapshot, status: "disconnected", problem: reason, updatedAt: Date.now() });
    },
  });
  return {
    close() {
      closed = true;
      connection.close();
    },
  };
}

/** Follows a run folder: reads it now and again whenever its files change. A failed read keeps the last good data. */
export function followRunFolder(dir: string, onSnapshot: (snapshot: RunSnapshot) => void, options: { intervalMs?: number } = {}): RunFollower {
  let snapshot = emptySnapshot({ kind: "folder", dir });
  let closed = false;
  let reading: Promise<void> = Promise.resolve();
  const read = async () => {
    try {
      const records = await readRunFolder(dir);
      snapshot = { ...snapshot, ...records, metrics: byIteration(records.metrics), evaluations: byIteration(records.evaluations), problem: null, updatedAt: Date.now() };
    } catch (err) {
      snapshot = { ...snapshot, problem: (err as Error).message, updatedAt: Date.now() };
    }
    if (!closed) onSnapshot(snapshot);
  };
  // Reads run one after another, so an older read never overwrites a newer one.
  const watcher = watchRunFolder(dir, () => (reading = reading.then(read)), options);
  return {
    close() {
      closed = true;
      watcher.dispose();
    },
  };
}

/** Records in iteration order, a later record replacing an earlier one of the same iteration. */
function byIteration<T extends { iteration: number }>(records: T[]): T[] {
  const kept = new Map<number, T>();
  for (const r of records) kept.set(r.iteration, r);
  return [...kept.values()].sort((a, b) => a.iteration - b.iteration);
}
