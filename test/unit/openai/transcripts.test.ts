// The backend against recorded server behaviour: each transcript under test/fixtures/transcripts
// follows a named document (vLLM, Ollama, OpenAI, the SSE spec) and is replayed from 127.0.0.1.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { createOpenAIPolicy } from "../../../server/policy/openai/openai-policy";
import { PolicyServerError } from "../../../server/policy/openai/server-error";
import type { GeneratedToken } from "../../../server/policy/types";
import { loadTranscript, replay, startScriptedServer, type ScriptedServer } from "./scripted-server";

const MESSAGES = [{ role: "user" as const, content: "Write add(a, b)." }];
let server: ScriptedServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function run(name: string, options: { tokenIdsFromServer?: boolean } = {}) {
  const transcript = loadTranscript(name);
  server = await startScriptedServer([replay(transcript)]);
  const policy = createOpenAIPolicy({ baseUrl: server.baseUrl, model: "m", env: {}, ...options });
  const generation = policy.generate({ messages: MESSAGES }, { temperature: 0, maxTokens: 64, seed: 5 });
  const tokens: GeneratedToken[] = [];
  for await (const token of generation) tokens.push(token);
  return { transcript, tokens, result: await generation.result, request: server.requests[0] };
}

test("vLLM stream with logprobs: one token per chunk, logprobs mapped, usage from the usage chunk", async () => {
  const { transcript, tokens, result, request } = await run("vllm-stream-logprobs.json");
  const expected = transcript.expected as { text: string; logprobs: number[]; usage: unknown };
  assert.equal(result.text, expected.text);
  assert.equal(tokens.map((t) => t.text).join(""), expected.text);
  assert.deepEqual(result.completionLogprobs, expected.logprobs);
  assert.deepEqual(tokens.map((t) => t.logprob), expected.logprobs);
  assert.ok(tokens.every((t) => t.tokenId === -1), "plain OpenAI logprobs carry no ids");
  assert.equal(result.finishReason, "stop");
  assert.deepEqual(result.usage, expected.usage);
  assert.equal(result.seed, 5);
  assert.deepEqual(
    { model: request.body.model, stream: request.body.stream, logprobs: request.body.logprobs, seed: request.body.seed, max_tokens: request.body.max_tokens, temperature: request.body.temperature },
    { model: "m", stream: true, logprobs: true, seed: 5, max_tokens: 64, temperature: 0 },
  );
  assert.deepEqual(request.body.stream_options, { include_usage: true });
});

test("vLLM return_tokens_as_token_ids: token ids recovered, finish reason length", async () => {
  const { transcript, tokens, result, request } = await run("vllm-stream-token-ids.json", { tokenIdsFromServer: true });
  const expected = transcript.expected as { text: string; tokenIds: number[]; logprobs: number[] };
  assert.equal(request.body.return_tokens_as_token_ids, true);
  assert.deepEqual(result.completionTokenIds, expected.tokenIds);
  assert.deepEqual(tokens.map((t) => t.tokenId), expected.tokenIds);
  assert.deepEqual(result.completionLogprobs, expected.logprobs);
  assert.equal(result.text, expected.text);
  assert.equal(result.finishReason, "length");
});

test("Ollama stream without logprobs: one token per chunk with NaN logprob", async () => {
  const { transcript, tokens, result } = await run("ollama-stream.json");
  const expected = transcript.expected as { text: string; chunks: number; usage: unknown };
  assert.equal(result.text, expected.text);
  assert.equal(tokens.length, expected.chunks);
  assert.ok(tokens.every((t) => Number.isNaN(t.logprob) && t.tokenId === -1));
  assert.equal(result.finishReason, "stop");
  assert.deepEqual(result.usage, expected.usage);
});

test("SSE edge cases: keep-alive comments, CRLF, multi-line data, split CR LF", async () => {
  const { result } = await run("sse-spec-edge-cases.json");
  assert.equal(result.text, "Hello");
  assert.equal(result.finishReason, "stop");
});

for (const [name, kind, message] of [
  ["vllm-context-overflow.json", "context-overflow", /does not fit the context window of m .*maximum context length is 4096/],
  ["openai-context-overflow.json", "context-overflow", /does not fit the context window.*131072 tokens/],
  ["vllm-model-not-found.json", "model-not-found", /model "m" not found at http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions \(HTTP 404\): The model `qwen-coder` does not exist/],
  ["ollama-model-not-found.json", "model-not-found", /not found, try pulling it first/],
  ["vllm-unauthorized.json", "auth", /refused the request \(HTTP 401\): Unauthorized; check your API key/],
] as const) {
  test(`${name} becomes a ${kind} error with the server's words`, async () => {
    const transcript = loadTranscript(name);
    server = await startScriptedServer([replay(transcript)]);
    const policy = createOpenAIPolicy({ baseUrl: server.baseUrl, model: "m", env: {}, retry: { baseDelayMs: 1 } });
    const generation = policy.generate({ messages: MESSAGES });
    await assert.rejects(generation.result, (error: unknown) => {
      assert.ok(error instanceof PolicyServerError);
      assert.equal(error.kind, kind);
      assert.match(error.message, message);
      return true;
    });
    await assert.rejects(async () => {
      for await (const _ of generation) assert.fail("no tokens from an error");
    }, PolicyServerError);
    assert.equal(server.requests.length, 1, "client errors are not retried");
  });
}
