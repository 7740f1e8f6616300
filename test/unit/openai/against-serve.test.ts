// The OpenAI backend against `rlef serve` with the real tiny ONNX model: what comes through the
// HTTP round trip (tokens, ids, logprobs, text) must be exactly what the local policy produces.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { loadOnnxPolicy } from "../../../server/policy/onnx/onnx-policy";
import { createOpenAIPolicy } from "../../../server/policy/openai/openai-policy";
import { PolicyServerError } from "../../../server/policy/openai/server-error";
import type { ChatMessage, GeneratedToken, Policy } from "../../../server/policy/types";
import { startOpenAIServer, type RunningOpenAIServer } from "../../../server/serve/openai-server";
import { tinyModelFolder } from "../policy/python-reference";
import { observePolicy, type PolicyEvents } from "../serve/observed-policy";

const MESSAGES: ChatMessage[] = [
  { role: "system", content: "You write Python." },
  { role: "user", content: "def fib(n):" },
];
let onnx: Policy;
let events: PolicyEvents;
let server: RunningOpenAIServer;

before(async () => {
  onnx = await loadOnnxPolicy(tinyModelFolder(), { intraOpThreads: 1 });
  const observed = observePolicy(onnx);
  events = observed.events;
  server = await startOpenAIServer({ policy: observed.policy, contextLength: 64, apiKey: "sk-local-serve-key" });
});

after(async () => {
  await server.close();
  await onnx.unload();
});

function remote(options: { stream?: boolean; model?: string; apiKey?: string } = {}): Policy {
  return createOpenAIPolicy({ baseUrl: server.url, model: options.model ?? "tiny", apiKey: options.apiKey ?? "sk-local-serve-key", tokenIdsFromServer: true, stream: options.stream, env: {} });
}

for (const stream of [true, false]) {
  test(`${stream ? "streamed" : "non-streamed"}: token ids, logprobs and text equal the local policy's`, async () => {
    for (const sampling of [{ temperature: 0, maxTokens: 20 }, { temperature: 0.8, topP: 0.95, seed: 11, maxTokens: 20 }]) {
      const local = await onnx.generate({ messages: MESSAGES }, sampling).result;
      const generation = remote({ stream }).generate({ messages: MESSAGES }, sampling);
      const tokens: GeneratedToken[] = [];
      for await (const token of generation) tokens.push(token);
      const result = await generation.result;
      assert.deepEqual(result.completionTokenIds, local.completionTokenIds);
      assert.deepEqual(tokens.map((t) => t.tokenId), local.completionTokenIds);
      assert.equal(result.completionLogprobs.length, local.completionLogprobs.length);
      result.completionLogprobs.forEach((l, i) => assert.ok(Math.abs(l - local.completionLogprobs[i]) < 1e-9, `logprob ${i}`));
      assert.equal(result.text, local.text);
      assert.equal(result.finishReason, local.finishReason);
      assert.deepEqual(result.usage, local.usage);
    }
  });
}

test("encodeChat goes through /tokenize and equals the local chat template's ids", async () => {
  assert.deepEqual(await remote().encodeChat(MESSAGES), await onnx.encodeChat(MESSAGES));
});

test("cancelling through the backend cancels the generation on the server", async () => {
  const prompt = { messages: [{ role: "user" as const, content: "x" }] };
  // A seed whose completion runs to the token limit, so only the cancel can end it early.
  let seed = 1;
  while ((await onnx.generate(prompt, { temperature: 1, seed, maxTokens: 1000 }).result).finishReason !== "length") seed++;
  const settled = events.finishReasons.length;
  const controller = new AbortController();
  const generation = remote().generate(prompt, { temperature: 1, seed, maxTokens: 1000, signal: controller.signal });
  let count = 0;
  for await (const _ of generation) if (++count === 2) controller.abort();
  assert.equal((await generation.result).finishReason, "cancelled");
  await events.settled(settled + 1);
  assert.equal(events.finishReasons[settled], "cancelled");
});

test("the server's errors reach the caller as typed errors: model, context, key", async () => {
  await assert.rejects(remote({ model: "nope" }).generate({ messages: MESSAGES }).result, (e: unknown) => e instanceof PolicyServerError && e.kind === "model-not-found");
  const long: ChatMessage[] = [{ role: "user", content: "word ".repeat(200) }];
  await assert.rejects(remote().generate({ messages: long }).result, (e: unknown) => e instanceof PolicyServerError && e.kind === "context-overflow" && /maximum context length is 64/.test(e.message));
  await assert.rejects(remote({ apiKey: "sk-wrong" }).generate({ messages: MESSAGES }).result, (e: unknown) => e instanceof PolicyServerError && e.kind === "auth" && !e.message.includes("sk-wrong"));
});
