import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { compileChatTemplate, type ChatTemplateRenderer } from "../../../../server/policy/onnx/chat-template";
import { chatTemplateSource, readModelFolder } from "../../../../server/policy/onnx/model-folder";
import { encodeNextTurn } from "../../../../server/policy/onnx/next-turn";
import { loadOnnxPolicy } from "../../../../server/policy/onnx/onnx-policy";
import { loadTokenizer, type ModelTokenizer } from "../../../../server/policy/onnx/tokenizer";
import type { ChatMessage } from "../../../../server/policy/types";
import { REPO_ROOT, tinyModelFolder } from "../python-reference";

const QWEN25_CONFIG = join(REPO_ROOT, "test/fixtures/chat-templates/qwen2.5/tokenizer_config.json");
const FIRST: ChatMessage[] = [{ role: "user", content: "Print the sum of two integers read from stdin." }];
const REPLY = "```python\na, b = map(int, input().split())\nprint(a + b)\n```";
const FEEDBACK: ChatMessage[] = [{ role: "user", content: "Test 1 failed: input '1\\n2' raised ValueError." }];

let tiny: string;
let tokenizer: ModelTokenizer;
let chatml: ChatTemplateRenderer;
let qwen25: ChatTemplateRenderer;

before(async () => {
  tiny = tinyModelFolder();
  const folder = readModelFolder(tiny);
  tokenizer = await loadTokenizer(folder.tokenizerJson, folder.tokenizerConfig);
  chatml = await compileChatTemplate(folder.chatTemplate, tokenizer.specialTokens);
  const qwenConfig = JSON.parse(readFileSync(QWEN25_CONFIG, "utf8")) as Record<string, unknown>;
  qwen25 = await compileChatTemplate(chatTemplateSource(dirname(QWEN25_CONFIG), qwenConfig), tokenizer.specialTokens);
});

/** A previous turn whose sampled ids are the reply followed by the end-of-turn token. */
function endedWithEos(render: ChatTemplateRenderer) {
  const promptTokenIds = tokenizer.encode(render(FIRST));
  const completionTokenIds = [...tokenizer.encode(REPLY), tokenizer.tokenId("<|im_end|>") as number];
  return { messages: FIRST, result: { text: REPLY, promptTokenIds, completionTokenIds } };
}

for (const [name, render] of [
  ["ChatML (fixture)", () => chatml],
  ["Qwen2.5", () => qwen25],
] as const) {
  test(`${name}: after an end-of-turn token the next prompt equals the whole conversation's ids`, () => {
    const history = endedWithEos(render());
    const next = encodeNextTurn(render(), tokenizer, history, FEEDBACK);
    const whole = tokenizer.encode(render()([...FIRST, { role: "assistant", content: REPLY }, ...FEEDBACK]));
    assert.deepEqual(next, whole);
  });
}

test("a reply cut off without an end-of-turn token keeps its ids and gets the template's turn end", () => {
  const promptTokenIds = tokenizer.encode(chatml(FIRST));
  const completionTokenIds = tokenizer.encode("print(a +");
  const history = { messages: FIRST, result: { text: "print(a +", promptTokenIds, completionTokenIds } };
  const next = encodeNextTurn(chatml, tokenizer, history, FEEDBACK);
  const bridge = tokenizer.encode(`<|im_end|>\n<|im_start|>user\n${FEEDBACK[0].content}<|im_end|>\n<|im_start|>assistant\n`);
  assert.deepEqual(next, [...promptTokenIds, ...completionTokenIds, ...bridge]);
});

test("sampled text beyond the reply (a stop sequence) stays in the ids, before the turn end", () => {
  const promptTokenIds = tokenizer.encode(chatml(FIRST));
  const completionTokenIds = tokenizer.encode("x = 1\nEND");
  const history = { messages: FIRST, result: { text: "x = 1\n", promptTokenIds, completionTokenIds } };
  const next = encodeNextTurn(chatml, tokenizer, history, FEEDBACK);
  assert.deepEqual(next.slice(0, promptTokenIds.length + completionTokenIds.length), [...promptTokenIds, ...completionTokenIds]);
  assert.match(tokenizer.decode(next), /x = 1\nEND<\|im_end\|>\n<\|im_start\|>user\n/);
});

test("the policy continues a real generation token-in/token-out", async () => {
  const policy = await loadOnnxPolicy(tiny, { intraOpThreads: 1 });
  const first = await policy.generate({ messages: FIRST }, { temperature: 0, maxTokens: 6 }).result;
  assert.ok(policy.encodeNextTurn);
  const ids = await policy.encodeNextTurn({ messages: FIRST, result: first }, FEEDBACK);
  assert.deepEqual(ids.slice(0, first.promptTokenIds.length + 6), [...first.promptTokenIds, ...first.completionTokenIds]);
  const second = await policy.generate({ tokenIds: ids }, { temperature: 0, maxTokens: 3 }).result;
  assert.deepEqual(second.promptTokenIds, ids);
  await policy.unload();
});

test("a template that rewrites earlier turns is refused with the alternative named", async () => {
  const lastOnly = await compileChatTemplate("{{ messages[-1].content }}", {});
  assert.throws(() => encodeNextTurn(lastOnly, tokenizer, endedWithEos(chatml), FEEDBACK), /rewrites earlier turns.*encodeChat/);
});

test("a next turn without new messages is refused", () => {
  assert.throws(() => encodeNextTurn(chatml, tokenizer, endedWithEos(chatml), []), /at least one new message/);
});
