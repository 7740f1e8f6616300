// The session log's records: what the user ran, per turn, with outcomes, and what they did with the result.
// One JSON object per line (JSONL), versioned, schema-checked when written and when read, here and in the
// trainer (trainer/rlef_trainer/session_log.py loads the same schema from session-log.schema.json, which a
// unit test keeps equal to SESSION_LOG_SCHEMA). docs/session-log.md is the prose version.
import type { ChatMessage } from "../env/prompts";
import type { Outcome, Task, Visibility } from "../env/types";
import { TASK_SCHEMAS } from "../service/schema";
import Ajv, { type ValidateFunction } from "ajv";
import { describeSchemaErrors, RecordError } from "../training/records";

export const SESSION_LOG_VERSION = 1;

/** One attempt of a logged run. */
export interface SessionTurn {
  turn: number;
  response: string;
  /** The code taken from the response ("" when there was none). */
  code: string;
  invalid: boolean;
  publicPassed: boolean;
  /** Each test's outcome (its text is in the task and in the feedback). */
  results: { visibility: Visibility; outcome: Outcome; name?: string }[];
  /** The feedback message that followed this attempt (absent on the last one). */
  feedback?: string;
  reward: number;
}

/** One agent run: Solve Problem, Fix Until Tests Pass, or one more round of either. */
export interface SessionRecord {
  type: "session";
  version: typeof SESSION_LOG_VERSION;
  /** The run id (as in the editor's `rlef/agentEvent` notifications). */
  id: string;
  command: "solve" | "fix" | "one-more-round";
  /** One more round: the id of the run it continued. */
  continues?: string;
  /** Who asked: the LSP client's name and version ("Visual Studio Code 1.100.3"), or "rlef cli". */
  client: string;
  startedAt: string;
  wallMs: number;
  policy: string;
  task: Task;
  /** The conversation the model saw on the first attempt (system and problem, or the continued conversation). */
  prompt: ChatMessage[];
  /** One more round: the hint the user typed. */
  hint?: string;
  turns: SessionTurn[];
  outcome: "solved" | "failed" | "cancelled";
  totalReward: number;
  /** Whether the trainer may use the task; when not, `notTrainableBecause` says why. */
  trainable: boolean;
  notTrainableBecause?: string;
  /** What redaction replaced before the record was written (count of replacements and their kinds). */
  redactions: { count: number; kinds: string[] };
}

/** What the user did with a run's proposal in the diff review. */
export interface ReviewRecord {
  type: "review";
  version: typeof SESSION_LOG_VERSION;
  /** The run id of the session record. */
  session: string;
  decision: "accepted" | "rejected";
  at: string;
}

export type SessionLogLine = SessionRecord | ReviewRecord;

const text = (maxLength: number) => ({ type: "string", maxLength });
const isoTime = { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$" };
const runId = { type: "string", minLength: 1, maxLength: 200 };
const version = { const: SESSION_LOG_VERSION };
const { workspaceTask, taskWith } = TASK_SCHEMAS;

// A logged task is a service task, except that a workspace task's root may have had the home folder replaced by "~".
const loggedTask = taskWith({ ...workspaceTask, properties: { ...workspaceTask.properties, root: text(4096) } });

const chatMessage = {
  type: "object",
  required: ["role", "content"],
  properties: { role: { enum: ["system", "user", "assistant"] }, content: { type: "string" } },
  additionalProperties: false,
};

const turn = {
  type: "object",
  required: ["turn", "response", "code", "invalid", "publicPassed", "results", "reward"],
  properties: {
    turn: { type: "integer", minimum: 1, maximum: 100 },
    response: { type: "string" },
    code: { type: "string" },
    invalid: { type: "boolean" },
    publicPassed: { type: "boolean" },
    results: {
      type: "array",
      maxItems: 100_000,
      items: {
        type: "object",
        required: ["visibility", "outcome"],
        properties: {
          visibility: { enum: ["public", "private"] },
          outcome: { enum: ["passed", "wrong_answer", "exception", "timeout", "out_of_memory"] },
          name: text(10_000),
        },
        additionalProperties: false,
      },
    },
    feedback: { type: "string" },
    reward: { type: "number" },
  },
  additionalProperties: false,
};

const sessionRecord = {
  type: "object",
  required: ["type", "version", "id", "command", "client", "startedAt", "wallMs", "policy", "task", "prompt", "turns", "outcome", "totalReward", "trainable", "redactions"],
  properties: {
    type: { const: "session" },
    version,
    id: runId,
    command: { enum: ["solve", "fix", "one-more-round"] },
    continues: runId,
    client: text(500),
    startedAt: isoTime,
    wallMs: { type: "number", minimum: 0 },
    policy: text(10_000),
    task: loggedTask,
    prompt: { type: "array", items: chatMessage, minItems: 1, maxItems: 10_000 },
    hint: { type: "string" },
    turns: { type: "array", items: turn, minItems: 1, maxItems: 100 },
    outcome: { enum: ["solved", "failed", "cancelled"] },
    totalReward: { type: "number" },
    trainable: { type: "boolean" },
    notTrainableBecause: text(2000),
    redactions: {
      type: "object",
      required: ["count", "kinds"],
      properties: { count: { type: "integer", minimum: 0 }, kinds: { type: "array", items: text(100), maxItems: 100, uniqueItems: true } },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
  // A task the trainer may not use says why.
  if: { required: ["trainable"], properties: { trainable: { const: false } } },
  then: { required: ["notTrainableBecause"] },
};

const reviewRecord = {
  type: "object",
  required: ["type", "version", "session", "decision", "at"],
  properties: { type: { const: "review" }, version, session: runId, decision: { enum: ["accepted", "rejected"] }, at: isoTime },
  additionalProperties: false,
};

/**
 * The schema of one line of the log (JSON Schema draft-07, as ajv and Python's jsonschema read it). The
 * record's `type` picks the branch, so an error points into the right one.
 */
export const SESSION_LOG_SCHEMA = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: `https://rlef.dev/schemas/session-log-v${SESSION_LOG_VERSION}.json`,
  title: "RLEF session log line",
  type: "object",
  required: ["type", "version"],
  properties: { type: { enum: ["session", "review"] }, version },
  allOf: [
    { if: { properties: { type: { const: "session" } } }, then: sessionRecord },
    { if: { properties: { type: { const: "review" } } }, then: reviewRecord },
  ],
};

let validateLine: ValidateFunction | null = null;

/** Checks one parsed line; throws RecordError naming the field ("line.turns[0].reward must be number"). */
export function parseSessionLogLine(value: unknown, what = "line"): SessionLogLine {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new RecordError(`${what} must be a JSON object`);
  const v = (value as { version?: unknown }).version;
  if (typeof v === "number" && v > SESSION_LOG_VERSION) {
    throw new RecordError(`${what} has version ${v}, newer than this version of RLEF reads (${SESSION_LOG_VERSION}); update RLEF`);
  }
  // Compiled on first use (the extension host loads this module long before anything is logged).
  validateLine ??= new Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true }).compile(SESSION_LOG_SCHEMA);
  if (!validateLine(value)) throw new RecordError(describeSchemaErrors(what, validateLine.errors));
  return value as SessionLogLine;
}
