import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { loadOnnxPolicy } from "../../../../server/policy/onnx/onnx-policy";
import type { ChatMessage, GeneratedToken, Policy } from "../../../../server/policy/types";
import { pythonGreedy, runPython, tinyModelFolder } from "../python-reference";

const TASK: ChatMessage[] = [
  { role: "system", content: "You write Python." },
  { role: "user", content: "Write a function that returns the sum of a list." },
];

let tiny: string;
let policy: Policy;
const scratch = mkdtempSync(join(tmpdir(), "rlef-onnx-policy-"));

before(async () => {
  tiny = tinyModelFolder();
  policy = await loadOnnxPolicy(tiny, { intraOpThreads: 1 });
});

after(async () => {
  await policy.unload();
  rmSync(scratch, { recursive: true, force: true });
});

async function collect(iterable: AsyncIterable<GeneratedToken>): Promise<GeneratedToken[]> {
  const tokens: GeneratedToken[] = [];
  for await (const token of iterable) tokens.push(token);
  return tokens;
}

/** A copy of the fixture folder that a test may break. */
function copyOfTiny(name: string): string {
  const dir = join(scratch, name);
  cpSync(tiny, dir, { recursive: true });
  return dir;
}

test("greedy decoding gives exactly PyTorch's greedy tokens", async () => {
  const conversations: ChatMessage[][] = [TASK, [{ role: "user", content: "def fib(n):" }]];
  for (const messages of conversations) {
    const reference = pythonGreedy(tiny, messages, 40);
    const result = await policy.generate({ messages }, { temperature: 0, maxTokens: 40 }).result;
    assert.deepEqual(result.promptTokenIds, reference.prompt);
    assert.deepEqual(result.completionTokenIds, reference.completion);
  }
});

test("tokens stream out one by one before the generation finishes", async () => {
  const generation = policy.generate({ messages: TASK }, { temperature: 0, maxTokens: 12 });
  let finished = false;
  void generation.result.then(() => (finished = true));
  const tokens: GeneratedToken[] = [];
  let finishedAtFirstToken: boolean | undefined;
  for await (const token of generation) {
    finishedAtFirstToken ??= finished;
    tokens.push(token);
  }
  const result = await generation.result;
  assert.equal(finishedAtFirstToken, false);
  assert.deepEqual(
    tokens.map((t) => t.tokenId),
    result.completionTokenIds,
  );
  assert.equal(tokens.map((t) => t.text).join(""), result.text);
  assert.deepEqual(
    tokens.map((t) => t.logprob),
    result.completionLogprobs,
  );
  assert.ok(tokens.every((t) => t.logprob <= 0 && Number.isFinite(t.logprob)));
  assert.equal(result.finishReason, "length");
  assert.deepEqual(result.usage, { promptTokens: result.promptTokenIds.length, completionTokens: 12 });
});

test("cancelling mid-generation stops within one token", async () => {
  const controller = new AbortController();
  const generation = policy.generate({ messages: TASK }, { temperature: 0, maxTokens: 200, signal: controller.signal });
  let seenWhenCancelled = 0;
  for await (const _token of generation) {
    if (++seenWhenCancelled === 3) controller.abort();
  }
  const result = await generation.result;
  assert.equal(result.finishReason, "cancelled");
  assert.ok(result.completionTokenIds.length <= 4, `${result.completionTokenIds.length} tokens after cancel at 3`);
  assert.equal(result.usage.completionTokens, result.completionTokenIds.length);
});

test("an already aborted signal produces no tokens", async () => {
  const result = await policy.generate({ messages: TASK }, { signal: AbortSignal.abort() }).result;
  assert.equal(result.finishReason, "cancelled");
  assert.deepEqual(result.completionTokenIds, []);
});

test("a stop sequence ends the completion before it, with finish reason stop", async () => {
  const free = await policy.generate({ messages: TASK }, { temperature: 0, maxTokens: 30 }).result;
  const stop = free.text.slice(10, 14);
  assert.equal(stop.length, 4, `greedy text too short to cut: ${JSON.stringify(free.text)}`);
  const generation = policy.generate({ messages: TASK }, { temperature: 0, maxTokens: 30, stop: [stop] });
  const streamed = (await collect(generation)).map((t) => t.text).join("");
  const cut = await generation.result;
  assert.equal(cut.finishReason, "stop");
  assert.equal(cut.text, free.text.slice(0, free.text.indexOf(stop)));
  assert.equal(streamed, cut.text);
});

test("the same seed reproduces a sampled completion; another seed changes it", async () => {
  const options = { temperature: 1, topP: 1, topK: 0, maxTokens: 24 };
  const a = await policy.generate({ messages: TASK }, { ...options, seed: 11 }).result;
  const b = await policy.generate({ messages: TASK }, { ...options, seed: 11 }).result;
  const c = await policy.generate({ messages: TASK }, { ...options, seed: 12 }).result;
  assert.deepEqual(b.completionTokenIds, a.completionTokenIds);
  assert.notDeepEqual(c.completionTokenIds, a.completionTokenIds);
  assert.equal(a.seed, 11);
});

test("a prompt given as token ids continues exactly like the same chat", async () => {
  const ids = await policy.encodeChat(TASK);
  const fromIds = await policy.generate({ tokenIds: ids }, { temperature: 0, maxTokens: 10 }).result;
  const fromChat = await policy.generate({ messages: TASK }, { temperature: 0, maxTokens: 10 }).result;
  assert.deepEqual(fromIds.promptTokenIds, ids);
  assert.deepEqual(fromIds.completionTokenIds, fromChat.completionTokenIds);
});

test("concurrent generations run one after another and each gets its own cache", async () => {
  const alone = await policy.generate({ messages: TASK }, { temperature: 0, maxTokens: 8 }).result;
  const [x, y] = await Promise.all([
    policy.generate({ messages: TASK }, { temperature: 0, maxTokens: 8 }).result,
    policy.generate({ messages: TASK }, { temperature: 0, maxTokens: 8 }).result,
  ]);
  assert.deepEqual(x.completionTokenIds, alone.completionTokenIds);
  assert.deepEqual(y.completionTokenIds, alone.completionTokenIds);
});

test("invalid options and prompts fail the generation with a clear error and no tokens", async () => {
  const cases: [Parameters<Policy["generate"]>, RegExp][] = [
    [[{ messages: TASK }, { maxTokens: 0 }], /maxTokens/],
    [[{ messages: TASK }, { temperature: -0.5 }], /temperature/],
    [[{ messages: TASK }, { topP: 2 }], /topP/],
    [[{ messages: TASK }, { stop: [""] }], /stop sequences/],
    [[{ messages: TASK }, { seed: 1.5 }], /seed must be a safe integer/],
    [[{ messages: TASK }, { topK: -1 }], /topK/],
    [[{ messages: [] }, {}], /at least one message/],
    [[{ tokenIds: [] }, {}], /non-empty/],
    [[{ tokenIds: [1, 99_999_999] }, {}], /tokenIds\[1\]/],
    [[{ tokenIds: [1, -1] }, {}], /tokenIds\[1\]/],
    [[{ tokenIds: [1.5] }, {}], /tokenIds\[0\]/],
    [[{ tokenIds: "1 2 3" as unknown as number[] }, {}], /non-empty array/],
    [[null as unknown as { tokenIds: number[] }, {}], /a prompt must be/],
    [[{} as unknown as { tokenIds: number[] }, {}], /either messages or tokenIds/],
  ];
  for (const [args, message] of cases) {
    const generation = policy.generate(...args);
    await assert.rejects(generation.result, message);
    await assert.rejects(collect(generation), message);
  }
  // The policy still works after failed requests.
  assert.equal((await policy.generate({ messages: TASK }, { maxTokens: 2 }).result).completionTokenIds.length, 2);
});

test("an idle model is unloaded after the timeout and reloaded by the next generation", async () => {
  const idle = await loadOnnxPolicy(tiny, { intraOpThreads: 1, idleUnloadMs: 30 });
  const first = await idle.generate({ messages: TASK }, { temperature: 0, maxTokens: 5 }).result;
  assert.equal(idle.isLoaded(), true);
  await sleep(150);
  assert.equal(idle.isLoaded(), false);
  const again = await idle.generate({ messages: TASK }, { temperature: 0, maxTokens: 5 }).result;
  assert.deepEqual(again.completionTokenIds, first.completionTokenIds);
  await idle.unload();
  assert.equal(idle.isLoaded(), false);
});

test("the quantised variant loads from onnx/model_quantized.onnx and generates", async () => {
  const dir = copyOfTiny("quantized");
  runPython([join(__dirname, "..", "python", "reference.py"), "quantize", "--model", dir, "--kind", "int8"]);
  const quantized = await loadOnnxPolicy(dir, { variant: "quantized", intraOpThreads: 1 });
  const result = await quantized.generate({ messages: TASK }, { temperature: 0, maxTokens: 6 }).result;
  assert.equal(result.completionTokenIds.length, 6);
  await quantized.unload();
  await assert.rejects(loadOnnxPolicy(tiny, { variant: "q4" }), /no q4 decoder .*model_q4\.onnx/);
});

test("the fp16 variant, with a float16 KV cache and float16 logits, decodes like fp32", async () => {
  const dir = copyOfTiny("fp16");
  runPython([join(__dirname, "..", "python", "reference.py"), "quantize", "--model", dir, "--kind", "fp16"]);
  const half = await loadOnnxPolicy(dir, { variant: "fp16", intraOpThreads: 1 });
  const a = await half.generate({ messages: TASK }, { temperature: 0, maxTokens: 6 }).result;
  const b = await policy.generate({ messages: TASK }, { temperature: 0, maxTokens: 6 }).result;
  assert.equal(a.completionTokenIds.length, 6);
  // Half precision moves logits slightly; the first choice and its probability must hold.
  assert.equal(a.completionTokenIds[0], b.completionTokenIds[0]);
  assert.ok(Math.abs(a.completionLogprobs[0] - b.completionLogprobs[0]) < 0.05, `${a.completionLogprobs[0]} vs ${b.completionLogprobs[0]}`);
  await half.unload();
});

test("a root-level model.onnx, as optimum writes it, is accepted", async () => {
  const dir = copyOfTiny("root-level");
  renameSync(join(dir, "onnx", "model.onnx"), join(dir, "model.onnx"));
  rmSync(join(dir, "onnx"), { recursive: true });
  const rootLevel = await loadOnnxPolicy(dir, { intraOpThreads: 1 });
  const a = await rootLevel.generate({ messages: TASK }, { temperature: 0, maxTokens: 8 }).result;
  const b = await policy.generate({ messages: TASK }, { temperature: 0, maxTokens: 8 }).result;
  assert.deepEqual(a.completionTokenIds, b.completionTokenIds);
  await rootLevel.unload();
});

test("generation stops with finish reason length at the model's context window", async () => {
  const dir = copyOfTiny("short-context");
  const ids = await policy.encodeChat(TASK);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...readConfig(tiny), max_position_embeddings: ids.length + 5 }));
  const short = await loadOnnxPolicy(dir, { intraOpThreads: 1 });
  const result = await short.generate({ tokenIds: ids }, { temperature: 0, maxTokens: 100 }).result;
  assert.equal(result.finishReason, "length");
  assert.equal(result.promptTokenIds.length + result.completionTokenIds.length, ids.length + 5);
  await assert.rejects(short.generate({ tokenIds: [...ids, ...ids] }).result, /takes at most .* positions/);
  await short.unload();
});

test("broken model folders fail at load, naming the file and the problem", async () => {
  await assert.rejects(loadOnnxPolicy(join(scratch, "nope")), /does not exist/);

  const noOnnx = copyOfTiny("no-onnx");
  rmSync(join(noOnnx, "onnx"), { recursive: true });
  await assert.rejects(loadOnnxPolicy(noOnnx), /no fp32 decoder/);

  const badJson = copyOfTiny("bad-json");
  writeFileSync(join(badJson, "config.json"), "{ not json");
  await assert.rejects(loadOnnxPolicy(badJson), /config\.json is not valid JSON/);

  const wrongLayers = copyOfTiny("wrong-layers");
  writeFileSync(join(wrongLayers, "config.json"), JSON.stringify({ ...readConfig(tiny), num_hidden_layers: 3 }));
  await assert.rejects(loadOnnxPolicy(wrongLayers), /not a KV-cache decoder with 3 layers.*past_key_values\.2\.key/);

  const badHeads = copyOfTiny("bad-heads");
  writeFileSync(join(badHeads, "config.json"), JSON.stringify({ ...readConfig(tiny), num_key_value_heads: 3 }));
  await assert.rejects(loadOnnxPolicy(badHeads), /not a multiple of num_key_value_heads/);

  const corrupt = copyOfTiny("corrupt-onnx");
  writeFileSync(join(corrupt, "onnx", "model.onnx"), "this is not a protobuf");
  await assert.rejects(loadOnnxPolicy(corrupt), /onnxruntime could not load .*model\.onnx/);

  const noTemplate = copyOfTiny("no-template");
  rmSync(join(noTemplate, "chat_template.jinja"));
  await assert.rejects(loadOnnxPolicy(noTemplate), /no chat template/);

  const badEos = copyOfTiny("bad-eos");
  writeFileSync(join(badEos, "generation_config.json"), JSON.stringify({ eos_token_id: "</s>" }));
  await assert.rejects(loadOnnxPolicy(badEos), /eos_token_id/);
});

function readConfig(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
}
