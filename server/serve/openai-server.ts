// `rlef serve`: an OpenAI-compatible HTTP endpoint in front of one local policy, so that any
// OpenAI client (the `openai` libraries, editors, vLLM-style tooling) can use the ONNX model.
// Routes: GET /v1/models, GET /v1/models/{id}, POST /v1/chat/completions (JSON or SSE), and
// vLLM's POST /tokenize. Errors have OpenAI's shape. Generations run one at a time.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ChatMessage, Generation, Policy } from "../policy/types";
import { ApiError, apiErrorBody, asApiError, invalidRequest } from "./api-error";
import { parseChatRequest, type ChatCompletionRequest } from "./chat-request";
import {
  chunkObject,
  completionObject,
  tokenLogprob,
  usageChunkObject,
  wireFinishReason,
  type CompletionIdentity,
  type TokenLogprob,
} from "./completion-shapes";
import { GenerationQueue } from "./generation-queue";

export interface OpenAIServerOptions {
  policy: Policy;
  /** The id clients must send as `model`. Default: the policy's name. */
  modelId?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Longest prompt + completion the model takes; longer prompts get OpenAI's context_length_exceeded. */
  contextLength?: number;
  /** When set, requests must carry `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Requests that may wait behind the running generation before new ones get a 429. */
  maxWaiting?: number;
  /** Request log lines (method, path, status); never bodies or headers. */
  log?: (line: string) => void;
}

export interface RunningOpenAIServer {
  /** Base URL including /v1, e.g. http://127.0.0.1:8000/v1 */
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

export async function startOpenAIServer(options: OpenAIServerOptions): Promise<RunningOpenAIServer> {
  const host = options.host ?? "127.0.0.1";
  const modelId = options.modelId ?? options.policy.name;
  const queue = new GenerationQueue(options.maxWaiting ?? 64);
  const created = Math.floor(Date.now() / 1000);
  const context: HandlerContext = { ...options, modelId, queue, created };

  const server: Server = createServer((req, res) => {
    handle(context, req, res).catch((error: unknown) => sendError(res, asApiError(error)));
    res.on("finish", () => options.log?.(`${req.method} ${req.url} ${res.statusCode}`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/v1`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface HandlerContext extends OpenAIServerOptions {
  modelId: string;
  queue: GenerationQueue;
  created: number;
}

async function handle(context: HandlerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname.replace(/\/+$/, "");
  if (context.apiKey !== undefined && !authorized(req, context.apiKey)) {
    throw new ApiError(401, "Incorrect API key provided. Send it as 'Authorization: Bearer <key>'.", "invalid_request_error", null, "invalid_api_key");
  }
  const route = routeOf(path);
  if (route === undefined) throw new ApiError(404, `no route ${req.method} ${path}`, "invalid_request_error", null, "unknown_url");
  if (req.method !== route.method) {
    res.setHeader("Allow", route.method);
    throw new ApiError(405, `${path} takes ${route.method}, not ${req.method}`, "invalid_request_error");
  }
  switch (route.name) {
    case "models":
      return sendJson(res, 200, { object: "list", data: [modelObject(context)] });
    case "model": {
      const id = decodeURIComponent(path.slice("/v1/models/".length));
      if (id !== context.modelId) throw new ApiError(404, `The model '${id}' does not exist`, "invalid_request_error", "model", "model_not_found");
      return sendJson(res, 200, modelObject(context));
    }
    case "tokenize":
      return tokenize(context, await readJson(req), res);
    case "chat":
      return chatCompletion(context, parseChatRequest(await readJson(req), context.modelId), res);
  }
}

type RouteName = "models" | "model" | "tokenize" | "chat";

function routeOf(path: string): { name: RouteName; method: string } | undefined {
  if (path === "/v1/models") return { name: "models", method: "GET" };
  if (path.startsWith("/v1/models/")) return { name: "model", method: "GET" };
  if (path === "/tokenize") return { name: "tokenize", method: "POST" };
  if (path === "/v1/chat/completions") return { name: "chat", method: "POST" };
  return undefined;
}

function authorized(req: IncomingMessage, apiKey: string): boolean {
  const header = req.headers.authorization ?? "";
  const match = /^Bearer (.+)$/.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1]);
  const expected = Buffer.from(apiKey);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function modelObject(context: HandlerContext) {
  return { id: context.modelId, object: "model", created: context.created, owned_by: "rlef", max_model_len: context.contextLength ?? null };
}

/** vLLM's /tokenize: the prompt ids the chat template gives a conversation. */
async function tokenize(context: HandlerContext, body: unknown, res: ServerResponse): Promise<void> {
  const fields = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (fields.model !== undefined && fields.model !== context.modelId) {
    throw new ApiError(404, `The model '${String(fields.model)}' does not exist`, "invalid_request_error", "model", "model_not_found");
  }
  const request = parseChatRequest({ model: context.modelId, messages: fields.messages }, context.modelId);
  const tokens = await context.policy.encodeChat(request.messages);
  sendJson(res, 200, { count: tokens.length, max_model_len: context.contextLength ?? null, tokens });
}

async function chatCompletion(context: HandlerContext, request: ChatCompletionRequest, res: ServerResponse): Promise<void> {
  if (context.queue.isFull()) {
    throw new ApiError(429, `the server is busy: ${context.queue.length} requests are waiting; retry later`, "rate_limit_exceeded");
  }
  const cancel = new AbortController();
  // 'close' before the response finished means the client went away: stop generating.
  res.on("close", () => {
    if (!res.writableFinished) cancel.abort();
  });
  const identity: CompletionIdentity = { id: `chatcmpl-${randomBytes(12).toString("hex")}`, created: Math.floor(Date.now() / 1000), model: context.modelId };
  await context.queue.run(async () => {
    const promptTokenIds = await promptIds(context, request.messages);
    const generation = context.policy.generate({ tokenIds: promptTokenIds }, { ...request.sampling, signal: cancel.signal });
    if (request.stream) await streamCompletion(request, identity, generation, res);
    else {
      const logprobs: TokenLogprob[] = [];
      for await (const token of generation) logprobs.push(tokenLogprob(token, request.tokensAsTokenIds));
      const result = await generation.result;
      if (!cancel.signal.aborted) sendJson(res, 200, completionObject(identity, result, request.logprobs ? logprobs : null));
    }
  }, cancel.signal);
}

async function promptIds(context: HandlerContext, messages: ChatMessage[]): Promise<number[]> {
  const ids = await context.policy.encodeChat(messages);
  const limit = context.contextLength;
  if (limit !== undefined && ids.length >= limit) {
    // OpenAI's own wording and code, which clients (and our OpenAI backend) recognise.
    throw invalidRequest(
      `This model's maximum context length is ${limit} tokens. However, your messages resulted in ${ids.length} tokens. Please reduce the length of the messages.`,
      "messages",
      "context_length_exceeded",
    );
  }
  return ids;
}

async function streamCompletion(
  request: ChatCompletionRequest,
  identity: CompletionIdentity,
  generation: Generation,
  res: ServerResponse,
): Promise<void> {
  const iterator = generation[Symbol.asyncIterator]();
  // Wait for the first token before committing to 200: a generation that fails at once
  // (bad options, broken model) still gets a proper HTTP error status.
  let next = await iterator.next();
  res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive" });
  const send = (payload: unknown) => {
    if (!res.destroyed) res.write(`data: ${JSON.stringify(payload)}\n\n`);
  };
  send(chunkObject(identity, { role: "assistant", content: "" }, null, null));
  try {
    while (!next.done) {
      const token = next.value;
      send(chunkObject(identity, { content: token.text }, null, request.logprobs ? [tokenLogprob(token, request.tokensAsTokenIds)] : null));
      next = await iterator.next();
    }
    const result = await generation.result;
    send(chunkObject(identity, {}, wireFinishReason(result.finishReason), null));
    if (request.includeUsageInStream) send(usageChunkObject(identity, result));
  } catch (error) {
    // Headers are gone; vLLM reports a mid-stream failure as an error event, and so do we.
    send(apiErrorBody(asApiError(error)));
  }
  if (!res.destroyed) res.end("data: [DONE]\n\n");
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `request body over ${MAX_BODY_BYTES} bytes`, "invalid_request_error");
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidRequest("the request body is not valid JSON");
  }
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, error: ApiError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (res.destroyed) return;
  // A refused upload may still be arriving: close the connection rather than leave it unusable.
  if (error.status === 413) res.setHeader("Connection", "close");
  sendJson(res, error.status, apiErrorBody(error));
}
