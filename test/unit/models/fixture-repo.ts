// A model repository on disk, laid out as the Hub's ONNX repositories are (design.md, "Model
// folder"), with two decoder variants and files the model manager must leave on the Hub.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function makeFixtureRepo(): string {
  const root = mkdtempSync(join(tmpdir(), "rlef-hub-repo-"));
  mkdirSync(join(root, "onnx"));
  writeFileSync(join(root, "config.json"), JSON.stringify({ model_type: "qwen2", vocab_size: 1046 }));
  writeFileSync(join(root, "generation_config.json"), JSON.stringify({ eos_token_id: 2 }));
  writeFileSync(join(root, "tokenizer.json"), JSON.stringify({ model: { vocab: { a: 0 } }, padding: randomBytes(8 * 1024).toString("hex") }));
  writeFileSync(join(root, "tokenizer_config.json"), JSON.stringify({ eos_token: "</s>" }));
  writeFileSync(join(root, "chat_template.jinja"), "{% for m in messages %}{{ m.content }}{% endfor %}");
  writeFileSync(join(root, "README.md"), "# a model card\n");
  writeFileSync(join(root, "model.safetensors"), randomBytes(50 * 1024));
  writeFileSync(join(root, "onnx", "model.onnx"), randomBytes(300 * 1024));
  writeFileSync(join(root, "onnx", "model_q4.onnx"), randomBytes(90 * 1024));
  return root;
}
