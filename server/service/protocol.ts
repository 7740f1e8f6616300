// The environment service's wire protocol, version 1 (docs/env-protocol.md). Types of what crosses the
// WebSocket, the error codes, and the validator every incoming message goes through.
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import type { StepInfo } from "../env/episode";
import type { ChatMessage } from "../env/prompts";
import type { Task, TestResult } from "../env/types";
import { MESSAGE_SCHEMAS, MESSAGE_TYPES, type MessageType } from "./schema";

export const PROTOCOL_VERSION = 1;

export type RequestId = string | number;

export interface TaskReference {
  set: string;
  id: string;
}

export interface ResetOptions {
  maxTurns?: number;
  seed?: number;
  randomFeedback?: boolean;
  donorTasks?: Task[];
  contextLength?: number;
  tokenizer?: { kind: "chars-per-token"; charsPerToken: number };
  targetSource?: string;
}

export interface ResetBody {
  task: Task | TaskReference;
  options?: ResetOptions;
}

export interface StepBody {
  episodeId: string;
  response: string;
}

export type ClientMessage =
  | { type: "hello"; requestId?: RequestId; protocolVersion: number; token?: string }
  | ({ type: "reset"; requestId?: RequestId } & ResetBody)
  | ({ type: "step"; requestId?: RequestId } & StepBody)
  | { type: "resetBatch"; requestId?: RequestId; items: ResetBody[] }
  | { type: "stepBatch"; requestId?: RequestId; items: StepBody[] }
  | { type: "close"; requestId?: RequestId; episodeId: string }
  | { type: "stats"; requestId?: RequestId }
  | { type: "listTasks"; requestId?: RequestId; set: string };

export const ERROR_CODES = [
  "bad_json",
  "invalid_message",
  "unknown_type",
  "message_too_large",
  "unauthorized",
  "unsupported_protocol_version",
  "unknown_set",
  "unknown_task",
  "set_load_failed",
  "invalid_task",
  "workspace_tasks_disabled",
  "too_many_episodes",
  "unknown_episode",
  "episode_finished",
  "episode_busy",
  "overloaded",
  "run_failed",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorReply {
  type: "error";
  code: ErrorCode;
  message: string;
  requestId: RequestId | null;
}

/** An error the client can act on; turned into an ErrorReply at the edge. */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ResetReply {
  type: "reset";
  requestId: RequestId | null;
  episodeId: string;
  taskId: string;
  maxTurns: number;
  observation: { messages: ChatMessage[] };
}

export interface StepReply {
  type: "step";
  requestId: RequestId | null;
  episodeId: string;
  observation: { messages: ChatMessage[]; prompt: ChatMessage[] };
  results: TestResult[];
  reward: number;
  done: boolean;
  turn: number;
  info: StepInfo;
}

/** The tasks of a built-in set that a reference can reach, in load order, and which ones may be trained on. */
export interface TaskListing {
  /** The set's licence: every task, none, or per task ("partly"). */
  trainable: boolean | "partly";
  tasks: Array<{ id: string; trainable: boolean }>;
}

export interface ListTasksReply extends TaskListing {
  type: "listTasks";
  requestId: RequestId | null;
  set: string;
}

export interface ServiceStats {
  connections: number;
  /** Episodes between reset and done/close. */
  episodesInFlight: number;
  peakEpisodesInFlight: number;
  stepsInFlight: number;
  peakStepsInFlight: number;
  runsActive: number;
  runsQueued: number;
  peakRunsQueued: number;
  resets: number;
  steps: number;
  errors: Partial<Record<ErrorCode, number>>;
}

const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true });
const validators = Object.fromEntries(
  MESSAGE_TYPES.map((t) => [t, ajv.compile(MESSAGE_SCHEMAS[t])]),
) as Record<MessageType, ValidateFunction>;

/** The requestId of any parsed value, so even a rejected message's reply can be matched by the client. */
export function requestIdOf(value: unknown): RequestId | null {
  if (typeof value !== "object" || value === null) return null;
  const id = (value as { requestId?: unknown }).requestId;
  return typeof id === "string" || (typeof id === "number" && Number.isInteger(id)) ? id : null;
}

/** Parses and validates one incoming text frame; throws ServiceError with a message a client author can act on. */
export function parseClientMessage(text: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ServiceError("bad_json", `the message is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ServiceError("invalid_message", "a message must be a JSON object with a string field \"type\"");
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== "string") throw new ServiceError("invalid_message", 'a message must have a string field "type"');
  if (!(MESSAGE_TYPES as string[]).includes(type)) {
    throw new ServiceError("unknown_type", `unknown message type ${JSON.stringify(type).slice(0, 100)}; known: ${MESSAGE_TYPES.join(", ")}`);
  }
  const validate = validators[type as MessageType];
  if (!validate(value)) {
    throw new ServiceError("invalid_message", `invalid "${type}" message: ${describeSchemaErrors(validate.errors ?? [])}`);
  }
  return value as ClientMessage;
}

/** An inline task has a "kind"; a reference {set, id} has not (the schema guarantees one or the other). */
export function isInlineTask(task: Task | TaskReference): task is Task {
  return "kind" in task;
}

function describeSchemaErrors(errors: ErrorObject[]): string {
  return errors
    .map((e) => {
      const where = `message${e.instancePath.replace(/\/(\d+)/g, "[$1]").replace(/\//g, ".")}`;
      const extra = (e.params as { additionalProperty?: string }).additionalProperty;
      return `${where} ${e.message ?? "is invalid"}${extra !== undefined ? ` (${JSON.stringify(extra)})` : ""}`;
    })
    .join("; ");
}
