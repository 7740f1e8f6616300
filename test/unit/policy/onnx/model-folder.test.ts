import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chatTemplateSource, decoderShape, generationDefaults, readModelFolder } from "../../../../server/policy/onnx/model-folder";

const QWEN25_05B = {
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  hidden_size: 896,
  vocab_size: 151936,
  max_position_embeddings: 32768,
};

test("grouped-query attention shapes come from config.json", () => {
  assert.deepEqual(decoderShape(QWEN25_05B), {
    layers: 24,
    attentionHeads: 14,
    kvHeads: 2,
    headDim: 64,
    vocabSize: 151936,
    maxPositions: 32768,
  });
});

test("an explicit head_dim wins over hidden_size / heads, and no kv-head count means full multi-head", () => {
  const { num_key_value_heads: _, ...mha } = QWEN25_05B;
  const shape = decoderShape({ ...mha, head_dim: 128 });
  assert.equal(shape.headDim, 128);
  assert.equal(shape.kvHeads, 14);
});

test("malformed decoder configs name the field", () => {
  assert.throws(() => decoderShape({ ...QWEN25_05B, num_hidden_layers: 0 }), /num_hidden_layers must be a positive integer/);
  assert.throws(() => decoderShape({ ...QWEN25_05B, num_attention_heads: "14" }), /num_attention_heads/);
  assert.throws(() => decoderShape({ ...QWEN25_05B, num_key_value_heads: 4 }), /not a multiple of num_key_value_heads/);
  assert.throws(() => decoderShape({ ...QWEN25_05B, hidden_size: 900 }), /hidden_size is not a multiple/);
  assert.throws(() => decoderShape({ ...QWEN25_05B, vocab_size: undefined }), /vocab_size/);
});

test("generation defaults follow generation_config.json", () => {
  const qwen = { eos_token_id: [151645, 151643], do_sample: true, temperature: 0.7, top_p: 0.8, top_k: 20, repetition_penalty: 1.05 };
  assert.deepEqual(generationDefaults(qwen, {}), {
    eosTokenIds: [151645, 151643],
    temperature: 0.7,
    topP: 0.8,
    topK: 20,
    repetitionPenalty: 1.05,
  });
});

test("do_sample false means greedy, and EOS falls back to config.json", () => {
  const defaults = generationDefaults({ do_sample: false, temperature: 0.7 }, { eos_token_id: 2 });
  assert.equal(defaults.temperature, 0);
  assert.deepEqual(defaults.eosTokenIds, [2]);
  assert.deepEqual(generationDefaults({}, {}), { eosTokenIds: [], temperature: 1, topP: 1, topK: 0, repetitionPenalty: 1 });
});

test("malformed generation configs name the field", () => {
  assert.throws(() => generationDefaults({ eos_token_id: [1, "2"] }, {}), /eos_token_id/);
  assert.throws(() => generationDefaults({ eos_token_id: -1 }, {}), /eos_token_id/);
  assert.throws(() => generationDefaults({ temperature: "hot" }, {}), /temperature must be a number/);
});

test("the chat template is read from chat_template.jinja first, then from tokenizer_config.json", () => {
  const dir = mkdtempSync(join(tmpdir(), "rlef-template-"));
  assert.equal(chatTemplateSource(dir, { chat_template: "inline" }), "inline");
  const named = [
    { name: "tool_use", template: "tools" },
    { name: "default", template: "chat" },
  ];
  assert.equal(chatTemplateSource(dir, { chat_template: named }), "chat");
  writeFileSync(join(dir, "chat_template.jinja"), "from file");
  assert.equal(chatTemplateSource(dir, { chat_template: "inline" }), "from file");
  assert.throws(() => chatTemplateSource(mkdtempSync(join(tmpdir(), "rlef-template-")), {}), /no chat template/);
});

test("a folder is refused with the missing or malformed file named", () => {
  const dir = mkdtempSync(join(tmpdir(), "rlef-folder-"));
  assert.throws(() => readModelFolder(dir, "bogus" as "fp32"), /unknown ONNX variant "bogus"/);
  assert.throws(() => readModelFolder(dir), /no fp32 decoder \(looked for onnx\/model\.onnx, model\.onnx\)/);
  writeFileSync(join(dir, "model.onnx"), "");
  assert.throws(() => readModelFolder(dir), /missing config\.json/);
  writeFileSync(join(dir, "config.json"), "[1, 2]");
  assert.throws(() => readModelFolder(dir), /config\.json must hold a JSON object/);
  writeFileSync(join(dir, "config.json"), JSON.stringify(QWEN25_05B));
  assert.throws(() => readModelFolder(dir), /missing tokenizer\.json/);
});
