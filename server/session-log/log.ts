// The opt-in session log on disk: one folder, one JSONL file per month (`sessions-2026-11.jsonl`), lines
// appended and never rewritten. Every line is redacted (./redact.ts) and schema-checked (./record.ts) before
// it is written, and checked again when read; a line that fails is reported with its file and line number and
// skipped, never dropped from the file. Only the user's machine holds it: nothing here sends anything anywhere.
import { createReadStream } from "node:fs";
import { appendFile, mkdir, readdir, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { ChatMessage } from "../env/prompts";
import type { Task } from "../env/types";
import type { Trajectory } from "../agent/agent";
import { RecordError } from "../training/records";
import { makeRedactor, redactValue, type RedactionCounter, type RedactionOptions } from "./redact";
import { parseSessionLogLine, SESSION_LOG_VERSION, type ReviewRecord, type SessionRecord } from "./record";

/** A line longer than this is refused when written and reported when read (a log is read into memory line by line). */
export const MAX_LINE_BYTES = 32 * 1024 ** 2;

const LOG_FILE = /^sessions-(\d{4})-(\d{2})\.jsonl$/;

/** `$XDG_STATE_HOME/rlef/sessions`, else `~/.local/state/rlef/sessions`; the extension passes its own storage folder. */
export function defaultSessionLogDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(base, "rlef", "sessions");
}

/** What a finished run adds to the log. */
export interface SessionInput {
  id: string;
  command: SessionRecord["command"];
  continues?: string;
  client: string;
  task: Task;
  trajectory: Trajectory;
  hint?: string;
}

export class SessionLogError extends Error {
  override name = "SessionLogError";
}

export class SessionLogWriter {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly options: { redaction?: RedactionOptions; now?: () => Date } = {},
  ) {}

  /** Redacts, checks and appends one run's record; resolves with what was written. */
  async writeSession(input: SessionInput): Promise<SessionRecord> {
    const record = sessionRecordOf(input, this.options.redaction);
    await this.append(record);
    return record;
  }

  /** Records the user's decision on a run's proposal. */
  async writeReview(session: string, decision: ReviewRecord["decision"]): Promise<ReviewRecord> {
    const record: ReviewRecord = { type: "review", version: SESSION_LOG_VERSION, session, decision, at: this.now().toISOString() };
    await this.append(record);
    return record;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Appends are queued, so the lines of one writer keep their order; each line is one write (O_APPEND). */
  private append(record: SessionRecord | ReviewRecord): Promise<void> {
    parseSessionLogLine(record, record.type);
    const line = JSON.stringify(record) + "\n";
    if (Buffer.byteLength(line) > MAX_LINE_BYTES) {
      return Promise.reject(new SessionLogError(`the ${record.type} record is ${(Buffer.byteLength(line) / 1024 ** 2).toFixed(1)} MiB, over the log's ${MAX_LINE_BYTES / 1024 ** 2} MiB a line; not logged`));
    }
    const now = this.now();
    const file = join(this.dir, `sessions-${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}.jsonl`);
    const write = async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await appendFile(file, line, { encoding: "utf8", mode: 0o600 });
    };
    const done = this.queue.then(write, write);
    this.queue = done.catch(() => {});
    return done;
  }
}

/** The record of a finished run: redacted, with whether (and why not) the trainer may use its task. */
export function sessionRecordOf(input: SessionInput, redaction: RedactionOptions = {}): SessionRecord {
  const redact = makeRedactor(redaction);
  const counter: RedactionCounter = { count: 0, kinds: new Set() };
  const taskCounter: RedactionCounter = { count: 0, kinds: new Set() };
  const t = input.trajectory;
  const task = redactValue(input.task, redact, taskCounter);
  const first = t.turns[0];
  if (!first) throw new SessionLogError(`run ${input.id} made no attempt: nothing to log`);
  const record: SessionRecord = {
    type: "session",
    version: SESSION_LOG_VERSION,
    id: input.id,
    command: input.command,
    client: input.client,
    startedAt: t.startedAt,
    wallMs: t.wallMs,
    policy: t.policy,
    task,
    prompt: redactValue<ChatMessage[]>(first.prompt, redact, counter),
    turns: t.turns.map((turn) => {
      const logged: SessionRecord["turns"][number] = {
        turn: turn.turn,
        response: redact(turn.response, counter),
        code: redact(turn.code, counter),
        invalid: turn.invalid,
        publicPassed: turn.publicPassed,
        results: turn.results.map((r) => (r.name === undefined ? { visibility: r.visibility, outcome: r.outcome } : { visibility: r.visibility, outcome: r.outcome, name: redact(r.name, counter) })),
        reward: turn.reward,
      };
      if (turn.feedback !== undefined) logged.feedback = redact(turn.feedback, counter);
      return logged;
    }),
    outcome: t.outcome,
    totalReward: t.totalReward,
    trainable: true,
    redactions: { count: 0, kinds: [] },
  };
  if (input.continues) record.continues = input.continues;
  if (input.hint !== undefined) record.hint = redact(input.hint, counter);
  const why = notTrainableBecause(input.task, taskCounter);
  if (why) {
    record.trainable = false;
    record.notTrainableBecause = why;
  }
  record.redactions = { count: counter.count + taskCounter.count, kinds: [...new Set([...taskCounter.kinds, ...counter.kinds])].sort() };
  return record;
}

function notTrainableBecause(task: Task, taskRedactions: RedactionCounter): string | null {
  if (task.kind === "workspace") return "a workspace task is logged without the workspace's files, so it cannot be replayed";
  if (task.set !== "user") return `a task of the built-in set ${task.set}: train on the set itself, where its licence allows`;
  if (task.publicTests.length === 0) return "the task has no public tests (no feedback to learn from)";
  if (taskRedactions.count > 0) return `redaction replaced text in the task (${[...taskRedactions.kinds].sort().join(", ")}), so its tests may no longer hold`;
  return null;
}

/** A line of the log that could not be used, and why. */
export interface SessionLogProblem {
  file: string;
  line: number;
  message: string;
}

export interface SessionLogContents {
  /** Session records in the order they were written (files by month, lines in order). */
  sessions: SessionRecord[];
  /** The last review decision of each session id. */
  reviews: Map<string, ReviewRecord["decision"]>;
  problems: SessionLogProblem[];
  files: string[];
  bytes: number;
}

/** Reads every log file of `dir` (a folder that does not exist is an empty log). */
export async function readSessionLog(dir: string): Promise<SessionLogContents> {
  const contents: SessionLogContents = { sessions: [], reviews: new Map(), problems: [], files: [], bytes: 0 };
  for (const name of await logFiles(dir)) {
    const file = join(dir, name);
    contents.files.push(file);
    contents.bytes += (await stat(file)).size;
    const lines = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
    let number = 0;
    for await (const text of lines) {
      number++;
      if (!text.trim()) continue;
      const problem = (message: string) => contents.problems.push({ file, line: number, message });
      if (Buffer.byteLength(text) > MAX_LINE_BYTES) {
        problem(`the line is over ${MAX_LINE_BYTES / 1024 ** 2} MiB`);
        continue;
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        problem(`not JSON: ${(err as Error).message}`);
        continue;
      }
      try {
        const line = parseSessionLogLine(value, "line");
        if (line.type === "session") contents.sessions.push(line);
        else contents.reviews.set(line.session, line.decision);
      } catch (err) {
        if (!(err instanceof RecordError)) throw err;
        problem(err.message);
      }
    }
  }
  return contents;
}

/** Deletes the log's files (only those: the folder and anything else in it stay); returns how many. */
export async function clearSessionLog(dir: string): Promise<number> {
  const names = await logFiles(dir);
  for (const name of names) await rm(join(dir, name), { force: true });
  return names.length;
}

async function logFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => LOG_FILE.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new SessionLogError(`cannot read the session log folder ${dir}: ${(err as Error).message}`);
  }
}
