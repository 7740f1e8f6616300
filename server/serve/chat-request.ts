// Validation of a POST /v1/chat/completions body: every field this server honours is checked
// and turned into the policy's sampling options; anything wrong is a 400 naming the field.
// Fields it cannot honour (n > 1, top_logprobs > 0, tools) are refused rather than ignored, so a
// client never silently gets something other than what it asked for.
import type { ChatMessage, ChatRole, SamplingOptions } from "../policy/types";
import { ApiError, invalidRequest } from "./api-error";

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  includeUsageInStream: boolean;
  logprobs: boolean;
  /** vLLM's extension: logprob tokens are written "token_id:<id>" so clients recover token ids. */
  tokensAsTokenIds: boolean;
  sampling: Omit<SamplingOptions, "signal">;
}

const ROLES: readonly ChatRole[] = ["system", "user", "assistant"];
const MAX_STOP_SEQUENCES = 16;

export function parseChatRequest(body: unknown, servedModel: string): ChatCompletionRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalidRequest("the request body must be a JSON object");
  }
  const fields = body as Record<string, unknown>;
  const model = fields.model;
  if (typeof model !== "string" || model === "") throw invalidRequest("'model' must be a non-empty string", "model");
  if (model !== servedModel) {
    throw new ApiError(404, `The model '${model}' does not exist; this server serves '${servedModel}'`, "invalid_request_error", "model", "model_not_found");
  }
  const n = optionalInteger(fields, "n", 1, 128);
  if (n !== undefined && n !== 1) throw invalidRequest("only n = 1 is supported", "n");
  for (const unsupported of ["tools", "functions", "tool_choice", "response_format"]) {
    if (fields[unsupported] !== undefined && fields[unsupported] !== null) {
      throw invalidRequest(`'${unsupported}' is not supported by this server`, unsupported);
    }
  }
  const topLogprobs = optionalInteger(fields, "top_logprobs", 0, 20);
  if (topLogprobs !== undefined && topLogprobs > 0) {
    throw invalidRequest("top_logprobs > 0 is not supported: only the sampled token's logprob is reported", "top_logprobs");
  }
  const streamOptions = fields.stream_options;
  if (streamOptions !== undefined && streamOptions !== null && (typeof streamOptions !== "object" || Array.isArray(streamOptions))) {
    throw invalidRequest("'stream_options' must be an object", "stream_options");
  }
  const includeUsage = (streamOptions as Record<string, unknown> | null | undefined)?.include_usage;
  if (includeUsage !== undefined && typeof includeUsage !== "boolean") {
    throw invalidRequest("'stream_options.include_usage' must be a boolean", "stream_options");
  }
  const maxTokens = optionalInteger(fields, "max_completion_tokens", 1, Number.MAX_SAFE_INTEGER) ?? optionalInteger(fields, "max_tokens", 1, Number.MAX_SAFE_INTEGER);
  const seed = optionalInteger(fields, "seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const sampling: Omit<SamplingOptions, "signal"> = {};
  const temperature = optionalNumber(fields, "temperature", 0, 2);
  if (temperature !== undefined) sampling.temperature = temperature;
  const topP = optionalNumber(fields, "top_p", 0, 1);
  if (topP !== undefined) {
    if (topP === 0) throw invalidRequest("'top_p' must be in (0, 1]", "top_p");
    sampling.topP = topP;
  }
  if (maxTokens !== undefined) sampling.maxTokens = maxTokens;
  if (seed !== undefined) sampling.seed = seed;
  const stop = parseStop(fields.stop);
  if (stop.length > 0) sampling.stop = stop;
  return {
    model,
    messages: parseMessages(fields.messages),
    stream: optionalBoolean(fields, "stream") ?? false,
    includeUsageInStream: includeUsage === true,
    logprobs: optionalBoolean(fields, "logprobs") ?? false,
    tokensAsTokenIds: optionalBoolean(fields, "return_tokens_as_token_ids") ?? false,
    sampling,
  };
}

function parseMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw invalidRequest("'messages' must be a non-empty array", "messages");
  return value.map((entry: unknown, index) => {
    const param = `messages[${index}]`;
    if (typeof entry !== "object" || entry === null) throw invalidRequest(`${param} must be an object`, param);
    const { role, content } = entry as Record<string, unknown>;
    if (typeof role !== "string" || !ROLES.includes(role as ChatRole)) {
      throw invalidRequest(`${param}.role must be one of ${ROLES.join(", ")}, got ${JSON.stringify(role)}`, `${param}.role`);
    }
    return { role: role as ChatRole, content: messageText(content, `${param}.content`) };
  });
}

/** Content is a string or, as newer clients send it, an array of {type: "text", text} parts. */
function messageText(content: unknown, param: string): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown, index) => {
        const p = part as Record<string, unknown> | null;
        if (typeof p !== "object" || p === null || p.type !== "text" || typeof p.text !== "string") {
          throw invalidRequest(`${param}[${index}] must be a text part {"type": "text", "text": ...}; this model reads text only`, param);
        }
        return p.text;
      })
      .join("");
  }
  throw invalidRequest(`${param} must be a string or an array of text parts`, param);
}

function parseStop(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.some((s) => typeof s !== "string" || s === "")) {
    throw invalidRequest("'stop' must be a non-empty string or an array of non-empty strings", "stop");
  }
  if (list.length > MAX_STOP_SEQUENCES) throw invalidRequest(`'stop' takes at most ${MAX_STOP_SEQUENCES} sequences`, "stop");
  return list as string[];
}

function optionalNumber(fields: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw invalidRequest(`'${name}' must be a number in [${min}, ${max}], got ${JSON.stringify(value)}`, name);
  }
  return value;
}

function optionalInteger(fields: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidRequest(`'${name}' must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`, name);
  }
  return value;
}

function optionalBoolean(fields: Record<string, unknown>, name: string): boolean | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw invalidRequest(`'${name}' must be a boolean`, name);
  return value;
}
