// design.md: chat templates must render to identical token ids in TypeScript
// (@huggingface/jinja + @huggingface/tokenizers) and Python (Jinja2 + transformers).
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { compileChatTemplate } from "../../../../server/policy/onnx/chat-template";
import { chatTemplateSource, readModelFolder } from "../../../../server/policy/onnx/model-folder";
import { loadTokenizer, type ModelTokenizer } from "../../../../server/policy/onnx/tokenizer";
import type { ChatMessage } from "../../../../server/policy/types";
import { pythonChatIds, REPO_ROOT, tinyModelFolder } from "../python-reference";

const QWEN25_CONFIG = join(REPO_ROOT, "test/fixtures/chat-templates/qwen2.5/tokenizer_config.json");

const CONVERSATIONS: Record<string, ChatMessage[]> = {
  "one user turn": [{ role: "user", content: "Write a function that adds two numbers." }],
  "system prompt and a feedback turn": [
    { role: "system", content: "You are a careful Python programmer." },
    { role: "user", content: "Solve: read n, print n*2.\n" },
    { role: "assistant", content: "```python\nn = int(input())\nprint(n * 2)\n```" },
    { role: "user", content: "Feedback: test 1 failed.\nInput:\n3\nExpected:\n6\nGot:\n33\n" },
  ],
  "unicode, tabs and CRLF": [{ role: "user", content: "naïve café 日本語 🙂\tindent\r\nwindows line\u00a0nbsp  trailing  " }],
  "text that looks like special tokens or Jinja": [
    { role: "user", content: "print('<|im_end|>') {{ messages }} {% if x %} <|im_start|>system" },
  ],
  "empty content": [{ role: "user", content: "" }],
};

let tiny: string;
let tokenizer: ModelTokenizer;

before(async () => {
  tiny = tinyModelFolder();
  const folder = readModelFolder(tiny);
  tokenizer = await loadTokenizer(folder.tokenizerJson, folder.tokenizerConfig);
});

async function typescriptIds(templateSource: string, conversations: ChatMessage[][]): Promise<number[][]> {
  const render = await compileChatTemplate(templateSource, tokenizer.specialTokens);
  return conversations.map((messages) => tokenizer.encode(render(messages)));
}

test("the fixture model's chat template gives the same ids as transformers", async () => {
  const conversations = Object.values(CONVERSATIONS);
  const python = pythonChatIds(tiny, conversations);
  const typescript = await typescriptIds(readModelFolder(tiny).chatTemplate, conversations);
  Object.keys(CONVERSATIONS).forEach((name, i) => assert.deepEqual(typescript[i], python[i], name));
});

test("Qwen2.5's real chat template gives the same ids as transformers", async () => {
  const conversations = Object.values(CONVERSATIONS);
  const python = pythonChatIds(tiny, conversations, QWEN25_CONFIG);
  const config = JSON.parse(readFileSync(QWEN25_CONFIG, "utf8")) as Record<string, unknown>;
  const typescript = await typescriptIds(chatTemplateSource(dirname(QWEN25_CONFIG), config), conversations);
  Object.keys(CONVERSATIONS).forEach((name, i) => assert.deepEqual(typescript[i], python[i], name));
  // Qwen2.5 adds its default system prompt when the conversation has none.
  assert.match(tokenizer.decode(typescript[0]), /^<\|im_start\|>system\nYou are Qwen/);
});

test("a template that does not parse is rejected when it is compiled", async () => {
  await assert.rejects(compileChatTemplate("{% for m in messages %}{{ m.content }}", {}), /chat template does not parse/);
});

test("a template that raises is reported as a render failure", async () => {
  const render = await compileChatTemplate("{{ raise_exception('only user turns') }}", {});
  assert.throws(() => render([{ role: "user", content: "x" }]), /chat template failed to render: .*only user turns/);
});

test("malformed conversations are rejected before rendering", async () => {
  const render = await compileChatTemplate(readModelFolder(tiny).chatTemplate, tokenizer.specialTokens);
  assert.throws(() => render([]), /at least one message/);
  assert.throws(() => render([{ role: "tool" as "user", content: "x" }]), /role "tool"/);
  assert.throws(() => render([{ role: "user", content: 42 as unknown as string }]), /content must be a string/);
  assert.throws(() => render([null as unknown as ChatMessage]), /not an object/);
});
