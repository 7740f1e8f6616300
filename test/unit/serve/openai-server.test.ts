// `rlef serve`'s HTTP endpoint with the real tiny ONNX model, driven by the official `openai`
// npm client (what editors and tools use) and by raw requests for the hostile cases.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { loadOnnxPolicy } from "../../../server/policy/onnx/onnx-policy";
import type { ChatMessage, Policy } from "../../../server/policy/types";
import { startOpenAIServer, type RunningOpenAIServer } from "../../../server/serve/openai-server";
import { tinyModelFolder } from "../policy/python-reference";
import { observePolicy, type PolicyEvents } from "./observed-policy";

const MESSAGES: ChatMessage[] = [
  { role: "system", content: "You write Python." },
  { role: "user", content: "Write a function that returns the sum of a list." },
];
let onnx: Policy;
let events: PolicyEvents;
let server: RunningOpenAIServer;
let client: OpenAI;

before(async () => {
  onnx = await loadOnnxPolicy(tinyModelFolder(), { intraOpThreads: 1 });
  const observed = observePolicy(onnx);
  events = observed.events;
  server = await startOpenAIServer({ policy: observed.policy, contextLength: 4096 });
  client = new OpenAI({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });
});

after(async () => {
  await server.close();
  await onnx.unload();
});

test("GET /v1/models lists the served model", async () => {
  const models = [];
  for await (const model of client.models.list()) models.push(model.id);
  assert.deepEqual(models, ["tiny"]);
  assert.equal((await client.models.retrieve("tiny")).id, "tiny");
});

test("a non-streamed greedy completion is exactly the policy's own greedy completion", async () => {
  const direct = await onnx.generate({ messages: MESSAGES }, { temperature: 0, maxTokens: 24 }).result;
  const completion = await client.chat.completions.create({ model: "tiny", messages: MESSAGES, temperature: 0, max_tokens: 24 });
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.choices[0].message.content, direct.text);
  assert.equal(completion.choices[0].finish_reason, direct.finishReason === "length" ? "length" : "stop");
  assert.deepEqual(completion.usage, {
    prompt_tokens: direct.usage.promptTokens,
    completion_tokens: direct.usage.completionTokens,
    total_tokens: direct.usage.promptTokens + direct.usage.completionTokens,
  });
});

test("a streamed completion spells the same text, one logprob per token, usage at the end", async () => {
  const whole = await client.chat.completions.create({ model: "tiny", messages: MESSAGES, temperature: 0, max_tokens: 24, logprobs: true });
  const stream = await client.chat.completions.create({ model: "tiny", messages: MESSAGES, temperature: 0, max_tokens: 24, logprobs: true, stream: true, stream_options: { include_usage: true } });
  let text = "";
  const logprobs: number[] = [];
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined | null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    text += choice.delta.content ?? "";
    for (const entry of choice.logprobs?.content ?? []) logprobs.push(entry.logprob);
    finish = choice.finish_reason ?? finish;
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.deepEqual(logprobs, whole.choices[0].logprobs?.content?.map((e) => e.logprob));
  assert.equal(logprobs.length, whole.usage?.completion_tokens);
  assert.ok(logprobs.every((l) => l <= 0 && Number.isFinite(l)));
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage, whole.usage);
});

test("the same seed reproduces a sampled completion; top_p is honoured", async () => {
  const ask = (seed: number) => client.chat.completions.create({ model: "tiny", messages: MESSAGES, temperature: 1, top_p: 0.9, seed, max_tokens: 20 });
  const [a, b, c] = [await ask(7), await ask(7), await ask(8)];
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  const direct = await onnx.generate({ messages: MESSAGES }, { temperature: 1, topP: 0.9, seed: 8, maxTokens: 20 }).result;
  assert.equal(c.choices[0].message.content, direct.text);
});

test("max_tokens cuts with finish_reason length; a stop sequence ends the text before it", async () => {
  const long = await client.chat.completions.create({ model: "tiny", messages: MESSAGES, temperature: 0, max_tokens: 5 });
  assert.equal(long.choices[0].finish_reason, "length");
  assert.equal(long.usage?.completion_tokens, 5);
  const greedy = (await client.chat.completions.create({ model: "tiny", messages: MESSAGES, temperature: 0, max_tokens: 30 })).choices[0].message.content ?? "";
  const stop = greedy.slice(6, 9);
  assert.ok(stop.length === 3, `the greedy text is long enough to pick a stop sequence: ${JSON.stringify(greedy)}`);
  const stopped = await client.chat.completions.create({ model: "tiny", messages: MESSAGES, temperature: 0, max_tokens: 30, stop: [stop] });
  assert.equal(stopped.choices[0].message.content, greedy.slice(0, greedy.indexOf(stop)));
  assert.equal(stopped.choices[0].finish_reason, "stop");
});

async function post(body: unknown, path = "/chat/completions", init: RequestInit = {}): Promise<{ status: number; body: { error?: { message: string; type: string; param: string | null; code: string | null } } }> {
  const response = await fetch(`${server.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body), ...init });
  return { status: response.status, body: (await response.json()) as never };
}

test("malformed requests get OpenAI-shaped 400s naming the field", async () => {
  const good = { model: "tiny", messages: MESSAGES };
  const cases: [unknown, string | null, RegExp][] = [
    ["{not json", null, /not valid JSON/],
    [[1, 2], null, /must be a JSON object/],
    [{ messages: MESSAGES }, "model", /'model' must be a non-empty string/],
    [{ model: "tiny" }, "messages", /'messages' must be a non-empty array/],
    [{ model: "tiny", messages: [] }, "messages", /non-empty array/],
    [{ model: "tiny", messages: [{ role: "tool", content: "x" }] }, "messages[0].role", /must be one of system, user, assistant/],
    [{ model: "tiny", messages: [{ role: "user", content: 5 }] }, "messages[0].content", /must be a string or an array of text parts/],
    [{ model: "tiny", messages: [{ role: "user", content: [{ type: "image_url", image_url: "x" }] }] }, "messages[0].content", /reads text only/],
    [{ ...good, temperature: 3 }, "temperature", /'temperature' must be a number in \[0, 2\]/],
    [{ ...good, temperature: "hot" }, "temperature", /must be a number/],
    [{ ...good, top_p: 0 }, "top_p", /'top_p' must be in \(0, 1\]/],
    [{ ...good, max_tokens: 0 }, "max_tokens", /must be an integer/],
    [{ ...good, max_tokens: 1.5 }, "max_tokens", /must be an integer/],
    [{ ...good, seed: 1e300 }, "seed", /must be an integer/],
    [{ ...good, stop: [1] }, "stop", /'stop' must be a non-empty string or an array/],
    [{ ...good, stop: "" }, "stop", /non-empty string/],
    [{ ...good, n: 2 }, "n", /only n = 1/],
    [{ ...good, top_logprobs: 5, logprobs: true }, "top_logprobs", /not supported/],
    [{ ...good, tools: [{ type: "function" }] }, "tools", /'tools' is not supported/],
    [{ ...good, stream: "yes" }, "stream", /'stream' must be a boolean/],
    [{ ...good, stream_options: [] }, "stream_options", /must be an object/],
  ];
  for (const [body, param, message] of cases) {
    const answer = await post(body);
    assert.equal(answer.status, 400, JSON.stringify(body));
    assert.equal(answer.body.error?.type, "invalid_request_error");
    assert.equal(answer.body.error?.param, param, JSON.stringify(body));
    assert.match(answer.body.error?.message ?? "", message);
  }
});

test("unknown models, routes and methods get 404 / 405 in OpenAI's shape; the client raises NotFoundError", async () => {
  await assert.rejects(client.chat.completions.create({ model: "gpt-4", messages: MESSAGES }), (error: unknown) => {
    assert.ok(error instanceof OpenAI.NotFoundError);
    assert.equal(error.code, "model_not_found");
    return true;
  });
  assert.equal((await post({}, "/completions")).status, 404);
  const get = await fetch(`${server.url}/chat/completions`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
});

test("an oversized body is refused with 413", async () => {
  const answer = await post({ model: "tiny", messages: [{ role: "user", content: "x".repeat(9 * 1024 * 1024) }] });
  assert.equal(answer.status, 413);
});

test("a prompt longer than the context gets OpenAI's context_length_exceeded", async () => {
  const small = await startOpenAIServer({ policy: onnx, contextLength: 8 });
  try {
    const smallClient = new OpenAI({ baseURL: small.url, apiKey: "unused", maxRetries: 0 });
    await assert.rejects(smallClient.chat.completions.create({ model: "tiny", messages: MESSAGES }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.equal(error.code, "context_length_exceeded");
      assert.match(error.message, /maximum context length is 8 tokens\. However, your messages resulted in \d+ tokens/);
      return true;
    });
  } finally {
    await small.close();
  }
});

test("with an API key configured, requests without it get 401 and with it succeed", async () => {
  const guarded = await startOpenAIServer({ policy: onnx, apiKey: "sk-serve-secret" });
  try {
    const wrong = new OpenAI({ baseURL: guarded.url, apiKey: "sk-wrong", maxRetries: 0 });
    await assert.rejects(wrong.models.list(), OpenAI.AuthenticationError);
    const right = new OpenAI({ baseURL: guarded.url, apiKey: "sk-serve-secret", maxRetries: 0 });
    const completion = await right.chat.completions.create({ model: "tiny", messages: MESSAGES, max_tokens: 2 });
    assert.equal(completion.usage?.completion_tokens, 2);
  } finally {
    await guarded.close();
  }
});

test("concurrent requests run one at a time, in order, and each gets its own answer", async () => {
  const before = events.log.length;
  const ask = (seed: number) => client.chat.completions.create({ model: "tiny", messages: MESSAGES, temperature: 1, seed, max_tokens: 12 });
  const [a, b, c] = await Promise.all([ask(1), ask(2), ask(3)]);
  const log = events.log.slice(before);
  assert.deepEqual(log.map((l) => l.split(" ")[0]), ["start", "end", "start", "end", "start", "end"], "never two generations at once");
  for (const [completion, seed] of [[a, 1], [b, 2], [c, 3]] as const) {
    const direct = await onnx.generate({ messages: MESSAGES }, { temperature: 1, seed, maxTokens: 12 }).result;
    assert.equal(completion.choices[0].message.content, direct.text);
  }
});

test("a client that disconnects mid-stream cancels its generation, and the server keeps serving", async () => {
  const settledBefore = events.finishReasons.length;
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model: "tiny", messages: MESSAGES, temperature: 1, seed: 3, max_tokens: 4000, stream: true },
    { signal: controller.signal },
  );
  let chunks = 0;
  // The client ends the iteration quietly on abort, or throws; either way the socket closes.
  try {
    for await (const _ of stream) {
      if (++chunks === 3) controller.abort();
    }
  } catch {
    // expected: the request was aborted
  }
  assert.equal(chunks, 3);
  await events.settled(settledBefore + 1);
  assert.equal(events.finishReasons[settledBefore], "cancelled");
  const after = await client.chat.completions.create({ model: "tiny", messages: MESSAGES, max_tokens: 3 });
  assert.equal(after.usage?.completion_tokens, 3);
});
