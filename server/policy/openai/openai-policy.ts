// The policy backend for OpenAI-compatible servers (OpenAI, vLLM, Ollama, `rlef serve`):
// POST {baseUrl}/chat/completions, streamed as server-sent events (or one JSON answer).
//
// What maps onto the policy contract, and what cannot:
// - logprobs are requested and become GeneratedToken.logprob; a server that gives none leaves
//   NaN. Each streamed chunk is one GeneratedToken when the server gives no per-token logprobs.
// - token ids: OpenAI's API has none. With `tokenIdsFromServer`, vLLM's (and rlef serve's)
//   `return_tokens_as_token_ids` makes logprob tokens read "token_id:<id>"; otherwise ids are -1.
// - promptTokenIds are [] (chat servers do not return them); `encodeChat` asks vLLM's /tokenize.
// - prompts as token ids need a local backend: chat servers take messages only.
// Retries happen only before any token reached the caller: a refused connection, or HTTP
// 429/502/503/504, with exponential backoff and full jitter (or the server's Retry-After).
import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { TokenStream } from "../token-stream";
import type { ChatMessage, FinishReason, GeneratedToken, Generation, GenerationResult, Policy, PolicyPrompt, SamplingOptions } from "../types";
import { redactApiKey, resolveApiKey } from "./api-key";
import { DEFAULT_RETRY, retryDelayMs, type RetrySettings } from "./retry-delay";
import { PolicyServerError, RETRYABLE_STATUSES, errorBodyDetail, httpError } from "./server-error";
import { parseServerSentEvents } from "./sse-parser";

export interface OpenAITimeouts {
  /** From sending the request to the response headers. Default 30 s. */
  connectMs: number;
  /** From the response headers to the first token (prompt processing). Default 120 s. */
  firstTokenMs: number;
  /** Longest pause between two tokens; keep-alive comments do not count as tokens. Default 60 s. */
  idleMs: number;
}

export interface OpenAIPolicyOptions {
  /** The API root including the version, e.g. http://127.0.0.1:8000/v1 or https://api.openai.com/v1 */
  baseUrl: string;
  model: string;
  /** Default: RLEF_API_KEY, then OPENAI_API_KEY from `env`. Never logged. */
  apiKey?: string;
  env?: NodeJS.ProcessEnv;
  /** Stream tokens as they come (default) or ask for one JSON answer. */
  stream?: boolean;
  /** Ask for per-token logprobs (default true). */
  logprobs?: boolean;
  /** Send vLLM's return_tokens_as_token_ids so tokens carry their ids (vLLM, rlef serve). */
  tokenIdsFromServer?: boolean;
  timeouts?: Partial<OpenAITimeouts>;
  retry?: Partial<RetrySettings>;
  /** Diagnostic lines (requests, retries); the API key never appears in them. */
  log?: (line: string) => void;
}

export const DEFAULT_TIMEOUTS: OpenAITimeouts = { connectMs: 30_000, firstTokenMs: 120_000, idleMs: 60_000 };
export const UNKNOWN_TOKEN_ID = -1;
const MAX_ERROR_BODY = 64 * 1024;

export function createOpenAIPolicy(options: OpenAIPolicyOptions): Policy {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  try {
    const url = new URL(baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
  } catch {
    throw new Error(`the OpenAI-compatible server URL must be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
  }
  if (options.model.trim() === "") throw new Error("the OpenAI-compatible backend needs a model name");
  const apiKey = resolveApiKey(options.apiKey, options.env ?? process.env);
  const settings: ClientSettings = {
    ...options,
    baseUrl,
    apiKey,
    timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
    retry: { ...DEFAULT_RETRY, ...options.retry },
    log: (line) => options.log?.(redactApiKey(line, apiKey)),
  };
  return {
    name: options.model,
    isLoaded: () => true,
    unload: async () => undefined,
    encodeChat: (messages) => tokenizeRemotely(settings, messages),
    generate(prompt, sampling = {}) {
      const stream = new TokenStream<GeneratedToken>();
      const result = generate(settings, prompt, sampling, stream).catch((error: unknown) => {
        const safe = error instanceof Error ? redactError(error, apiKey) : new Error(redactApiKey(String(error), apiKey));
        stream.fail(safe);
        throw safe;
      });
      result.catch(() => undefined);
      return { result, [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator]() } satisfies Generation;
    },
  };
}

interface ClientSettings extends Omit<OpenAIPolicyOptions, "timeouts" | "retry" | "log"> {
  apiKey: string | undefined;
  timeouts: OpenAITimeouts;
  retry: RetrySettings;
  log: (line: string) => void;
}

function redactError(error: Error, apiKey: string | undefined): Error {
  error.message = redactApiKey(error.message, apiKey);
  if (error.stack) error.stack = redactApiKey(error.stack, apiKey);
  return error;
}

function headers(settings: ClientSettings): Record<string, string> {
  const h: Record<string, string> = { "Content-Type": "application/json" };
  if (settings.apiKey !== undefined) h.Authorization = `Bearer ${settings.apiKey}`;
  return h;
}

function requestBody(settings: ClientSettings, messages: ChatMessage[], sampling: SamplingOptions, seed: number): Record<string, unknown> {
  const stream = settings.stream ?? true;
  const body: Record<string, unknown> = { model: settings.model, messages, stream, seed };
  if (stream) body.stream_options = { include_usage: true };
  if (sampling.temperature !== undefined) body.temperature = sampling.temperature;
  if (sampling.topP !== undefined) body.top_p = sampling.topP;
  if (sampling.maxTokens !== undefined) body.max_tokens = sampling.maxTokens;
  if (sampling.stop !== undefined && sampling.stop.length > 0) body.stop = [...sampling.stop];
  // Not in OpenAI's API; vLLM and Ollama accept them. Sent only when the caller sets them.
  if (sampling.topK !== undefined && sampling.topK !== 0) body.top_k = sampling.topK;
  if (sampling.repetitionPenalty !== undefined && sampling.repetitionPenalty !== 1) body.repetition_penalty = sampling.repetitionPenalty;
  if (settings.logprobs ?? true) body.logprobs = true;
  if (settings.tokenIdsFromServer) body.return_tokens_as_token_ids = true;
  return body;
}

function validateSampling(sampling: SamplingOptions): void {
  const { temperature, topP, maxTokens, seed } = sampling;
  if (temperature !== undefined && (!Number.isFinite(temperature) || temperature < 0)) throw new Error(`temperature must be a finite number >= 0, got ${temperature}`);
  if (topP !== undefined && (!Number.isFinite(topP) || topP <= 0 || topP > 1)) throw new Error(`topP must be in (0, 1], got ${topP}`);
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1)) throw new Error(`maxTokens must be a positive integer, got ${maxTokens}`);
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new Error(`seed must be a safe integer, got ${seed}`);
}

/** Why an attempt's fetch was aborted: the caller, or one of our timers. */
type AbortCause = { kind: "cancelled" } | { kind: "timeout"; what: string; ms: number };

async function generate(settings: ClientSettings, prompt: PolicyPrompt, sampling: SamplingOptions, stream: TokenStream<GeneratedToken>): Promise<GenerationResult> {
  if (!("messages" in prompt)) {
    throw new Error("OpenAI-compatible chat servers take messages, not token ids; continue a rollout from token ids with the local ONNX backend");
  }
  validateSampling(sampling);
  const seed = sampling.seed ?? randomInt(2 ** 47);
  const url = `${settings.baseUrl}/chat/completions`;
  const body = JSON.stringify(requestBody(settings, prompt.messages, sampling, seed));
  const state: DecodeState = { text: "", tokenIds: [], logprobs: [], finish: undefined, usage: undefined, done: false };
  const emit = (token: GeneratedToken) => {
    state.tokenIds.push(token.tokenId);
    state.logprobs.push(token.logprob);
    state.text += token.text;
    stream.push(token);
  };

  for (let attempt = 0; ; attempt++) {
    if (sampling.signal?.aborted) return finish(state, "cancelled", seed, stream);
    const attemptAbort = new AbortController();
    let cause: AbortCause | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = (what: string, ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        cause = { kind: "timeout", what, ms };
        attemptAbort.abort();
      }, ms);
    };
    const onCancel = () => {
      cause = { kind: "cancelled" };
      attemptAbort.abort();
    };
    sampling.signal?.addEventListener("abort", onCancel, { once: true });
    const timeoutError = () => {
      const c = cause as { what: string; ms: number };
      return new PolicyServerError("timeout", `${url}: no ${c.what} within ${c.ms} ms`);
    };
    try {
      arm("response", settings.timeouts.connectMs);
      let response: Response;
      try {
        settings.log(`POST ${url} (attempt ${attempt + 1})`);
        response = await fetch(url, { method: "POST", headers: headers(settings), body, signal: attemptAbort.signal });
      } catch (error) {
        if (cause?.kind === "cancelled") return finish(state, "cancelled", seed, stream);
        if (cause?.kind === "timeout") throw timeoutError();
        const code = networkErrorCode(error);
        if (code === "ECONNREFUSED" && attempt < settings.retry.maxRetries) {
          const delay = retryDelayMs(attempt, settings.retry, null);
          settings.log(`connection to ${url} refused; retrying in ${delay} ms`);
          clearTimeout(timer);
          await waitOrCancel(delay, sampling.signal);
          continue;
        }
        throw new PolicyServerError("unreachable", `cannot connect to ${url}${code ? ` (${code})` : ""}: is the server running?`);
      }
      settings.log(`${url} answered HTTP ${response.status}`);
      if (!response.ok) {
        const text = await readLimited(response);
        if (RETRYABLE_STATUSES.has(response.status) && attempt < settings.retry.maxRetries) {
          const delay = retryDelayMs(attempt, settings.retry, response.headers.get("retry-after"));
          settings.log(`HTTP ${response.status} from ${url}; retrying in ${delay} ms`);
          clearTimeout(timer);
          await waitOrCancel(delay, sampling.signal);
          continue;
        }
        throw httpError(response.status, text, url, settings.model);
      }
      arm("first token", settings.timeouts.firstTokenMs);
      try {
        const isStream = (response.headers.get("content-type") ?? "").includes("text/event-stream");
        if (isStream) await readStream(response, state, emit, () => arm("token", settings.timeouts.idleMs), url, settings);
        else readWholeAnswer(await response.json(), state, emit, settings);
      } catch (error) {
        if (cause?.kind === "cancelled") return finish(state, "cancelled", seed, stream);
        if (cause?.kind === "timeout") throw timeoutError();
        if (error instanceof PolicyServerError) throw error;
        throw new PolicyServerError("protocol", `the stream from ${url} broke off after ${state.tokenIds.length} tokens: ${describe(error)}`);
      }
      if (!state.done) {
        throw new PolicyServerError("protocol", `the stream from ${url} ended after ${state.tokenIds.length} tokens without a finish reason or [DONE]; the connection was probably dropped`);
      }
      return finish(state, state.finish ?? "stop", seed, stream);
    } finally {
      clearTimeout(timer);
      sampling.signal?.removeEventListener("abort", onCancel);
    }
  }
}

interface DecodeState {
  text: string;
  tokenIds: number[];
  logprobs: number[];
  finish: FinishReason | undefined;
  usage: { promptTokens: number; completionTokens: number } | undefined;
  /** Saw [DONE] or a finish reason: the answer is complete. */
  done: boolean;
}

function finish(state: DecodeState, reason: FinishReason, seed: number, stream: TokenStream<GeneratedToken>): GenerationResult {
  stream.end();
  return {
    text: state.text,
    promptTokenIds: [],
    completionTokenIds: state.tokenIds,
    completionLogprobs: state.logprobs,
    finishReason: reason,
    usage: state.usage ?? { promptTokens: 0, completionTokens: state.tokenIds.length },
    seed,
  };
}

async function readStream(
  response: Response,
  state: DecodeState,
  emit: (token: GeneratedToken) => void,
  onToken: () => void,
  url: string,
  settings: ClientSettings,
): Promise<void> {
  if (!response.body) throw new PolicyServerError("protocol", `${url} sent no body`);
  for await (const event of parseServerSentEvents(response.body)) {
    if (event.data.trim() === "[DONE]") {
      state.done = true;
      break;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(event.data);
    } catch {
      throw new PolicyServerError("protocol", `${url} streamed an event that is not JSON: ${event.data.slice(0, 200)}`);
    }
    const errorInStream = (chunk as { error?: unknown } | null)?.error;
    if (errorInStream !== undefined && errorInStream !== null) {
      const { message } = errorBodyDetail(event.data);
      throw new PolicyServerError("server", `the server at ${url} failed mid-stream after ${state.tokenIds.length} tokens: ${message}`);
    }
    const before = state.tokenIds.length;
    readChoice(chunk, state, emit, settings, "delta");
    if (state.tokenIds.length > before) onToken();
  }
}

function readWholeAnswer(answer: unknown, state: DecodeState, emit: (token: GeneratedToken) => void, settings: ClientSettings): void {
  readChoice(answer, state, emit, settings, "message");
  state.done = state.finish !== undefined;
}

/** One chunk (delta) or answer (message): tokens out, finish reason and usage recorded. */
function readChoice(payload: unknown, state: DecodeState, emit: (token: GeneratedToken) => void, settings: ClientSettings, field: "delta" | "message"): void {
  if (typeof payload !== "object" || payload === null) throw new PolicyServerError("protocol", "the server sent a completion that is not a JSON object");
  const { choices, usage } = payload as { choices?: unknown; usage?: unknown };
  const u = usage as { prompt_tokens?: unknown; completion_tokens?: unknown } | null | undefined;
  if (u && typeof u.prompt_tokens === "number" && typeof u.completion_tokens === "number") {
    state.usage = { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens };
  }
  if (choices === undefined || (Array.isArray(choices) && choices.length === 0)) return;
  if (!Array.isArray(choices)) throw new PolicyServerError("protocol", "the server sent 'choices' that is not an array");
  const choice = choices[0] as { [key: string]: unknown; logprobs?: { content?: unknown } | null; finish_reason?: unknown };
  const part = choice[field] as { content?: unknown } | undefined;
  const content = typeof part?.content === "string" ? part.content : "";
  const entries = Array.isArray(choice.logprobs?.content) ? (choice.logprobs.content as { token?: unknown; logprob?: unknown }[]) : [];
  for (const token of tokensOf(content, entries, settings)) emit(token);
  if (typeof choice.finish_reason === "string") {
    state.finish = choice.finish_reason === "length" ? "length" : "stop";
    // Ollama and some proxies omit [DONE]; a finish reason already says the answer is whole.
    state.done = true;
  }
}

function tokensOf(content: string, entries: { token?: unknown; logprob?: unknown }[], settings: ClientSettings): GeneratedToken[] {
  if (entries.length === 0) return content === "" ? [] : [{ tokenId: UNKNOWN_TOKEN_ID, text: content, logprob: Number.NaN }];
  const strings = entries.map((e) => (typeof e.token === "string" ? e.token : ""));
  // Each entry gets its own text when they spell the content; otherwise (ids instead of text)
  // the chunk's text goes with its first token, so the joined texts still equal the content.
  const spelled = !settings.tokenIdsFromServer && strings.join("") === content;
  return entries.map((entry, index) => {
    const id = /^token_id:(\d+)$/.exec(strings[index]);
    return {
      tokenId: id ? Number(id[1]) : UNKNOWN_TOKEN_ID,
      text: spelled ? strings[index] : index === 0 ? content : "",
      logprob: typeof entry.logprob === "number" ? entry.logprob : Number.NaN,
    };
  });
}

async function tokenizeRemotely(settings: ClientSettings, messages: readonly ChatMessage[]): Promise<number[]> {
  // vLLM serves /tokenize beside /v1, not under it.
  const url = `${settings.baseUrl.replace(/\/v1$/, "")}/tokenize`;
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", headers: headers(settings), body: JSON.stringify({ model: settings.model, messages }), signal: AbortSignal.timeout(settings.timeouts.connectMs) });
  } catch (error) {
    throw new PolicyServerError("unreachable", `cannot connect to ${url} (${networkErrorCode(error) ?? describe(error)})`);
  }
  if (response.status === 404 || response.status === 405) {
    await response.body?.cancel();
    throw new PolicyServerError("protocol", `${url} does not exist: this server cannot tokenize a chat (vLLM and rlef serve can)`);
  }
  if (!response.ok) throw redactError(httpError(response.status, await readLimited(response), url, settings.model), settings.apiKey);
  const answer = (await response.json()) as { tokens?: unknown };
  if (!Array.isArray(answer.tokens) || !answer.tokens.every((t) => Number.isInteger(t))) {
    throw new PolicyServerError("protocol", `${url} answered without a 'tokens' array of integers`);
  }
  return answer.tokens as number[];
}

async function readLimited(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  return text.slice(0, MAX_ERROR_BODY);
}

async function waitOrCancel(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    // Cancelled while waiting to retry: the loop sees the aborted signal and finishes.
  }
}

function networkErrorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown; errors?: { code?: unknown }[] } } | undefined)?.cause;
  if (typeof cause?.code === "string") return cause.code;
  const nested = cause?.errors?.find((e) => typeof e.code === "string");
  return typeof nested?.code === "string" ? nested.code : undefined;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = networkErrorCode(error);
  return code ? `${error.message} (${code})` : error.message;
}
