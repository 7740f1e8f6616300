// Decode speed of the onnxruntime-node policy backend against onnxruntime's Python API running
// the same .onnx file, with the same thread count, in the same run, as the same greedy loop
// (bench/decode_ort.py: IOBinding, present-to-past reuse). Both must produce the same tokens.
// Optionally also transformers.js (not a dependency: pass the path of an installed copy).
//
//   npx tsx bench/decode.ts [--model DIR | --shape tiny|qwen2.5-0.5b] [--threads 1]
//       [--new-tokens 128] [--runs 3] [--transformers-js PATH/node_modules/@huggingface/transformers]
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadOnnxPolicy } from "../server/policy/onnx/onnx-policy";
import { readModelFolder } from "../server/policy/onnx/model-folder";
import type { ChatMessage } from "../server/policy/types";

const REPO = resolve(__dirname, "..");
const PYTHON = process.env.RLEF_VENV_PYTHON ?? join(REPO, ".venv", "bin", "python");
const PROMPT: ChatMessage[] = [
  { role: "system", content: "You are a careful Python programmer. Answer with one code block." },
  { role: "user", content: "Write a function `median(xs)` that returns the median of a non-empty list of numbers." },
];

interface Run {
  ttftMs: number;
  decodeMs: number;
}

interface EngineResult {
  tokens: number[];
  runs: Run[];
}

function python(args: string[], input = ""): string {
  if (!existsSync(PYTHON)) throw new Error(`the bench needs the project venv at ${PYTHON}; run bash .ci/install`);
  const r = spawnSync(PYTHON, args, {
    input,
    cwd: REPO,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, PYTHONPATH: join(REPO, "trainer") },
  });
  if (r.status !== 0) throw new Error(`python ${args.join(" ")} failed:\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

async function benchPolicy(model: string, prompt: number[], threads: number, newTokens: number, runs: number): Promise<EngineResult> {
  const policy = await loadOnnxPolicy(model, { intraOpThreads: threads });
  const greedy = { temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1 };
  await policy.generate({ tokenIds: prompt }, { ...greedy, maxTokens: 4 }).result; // warm-up
  const results: Run[] = [];
  let tokens: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    let first = 0;
    const generation = policy.generate({ tokenIds: prompt }, { ...greedy, maxTokens: newTokens });
    for await (const _token of generation) if (first === 0) first = performance.now();
    const end = performance.now();
    tokens = (await generation.result).completionTokenIds;
    results.push({ ttftMs: first - start, decodeMs: end - first });
  }
  await policy.unload();
  return { tokens, runs: results };
}

/** transformers.js's own generate() on the same folder, greedy, no repetition penalty. */
async function benchTransformersJs(path: string, model: string, prompt: number[], threads: number, newTokens: number, runs: number): Promise<EngineResult> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- optional package outside the project's types
  const tjs: any = await import(join(path, "dist", "transformers.node.mjs"));
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = dirname(model);
  const causalLm = await tjs.AutoModelForCausalLM.from_pretrained(basename(model), {
    dtype: "fp32",
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
  });
  const input = new tjs.Tensor("int64", BigInt64Array.from(prompt, BigInt), [1, prompt.length]);
  const attention = new tjs.Tensor("int64", new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
  const generate = async (maxNewTokens: number) => {
    const start = performance.now();
    let first = 0;
    let calls = 0;
    const streamer = new (class extends tjs.BaseStreamer {
      put() {
        // the first put() is the prompt itself
        if (++calls === 2) first = performance.now();
      }
      end() {}
    })();
    const out = await causalLm.generate({
      input_ids: input,
      attention_mask: attention,
      max_new_tokens: maxNewTokens,
      do_sample: false,
      repetition_penalty: 1.0,
      streamer,
    });
    const end = performance.now();
    const ids = Array.from(out.tolist()[0] as bigint[], Number).slice(prompt.length);
    return { ids, run: { ttftMs: first - start, decodeMs: end - first } };
  };
  await generate(4);
  const results: Run[] = [];
  let tokens: number[] = [];
  for (let r = 0; r < runs; r++) {
    const { ids, run } = await generate(newTokens);
    tokens = ids;
    results.push(run);
  }
  return { tokens, runs: results };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function summary(result: EngineResult) {
  const ttft = median(result.runs.map((r) => r.ttftMs));
  const decodeMs = median(result.runs.map((r) => r.decodeMs));
  return { ttftMs: ttft, tokensPerSecond: ((result.tokens.length - 1) * 1000) / decodeMs };
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: "string" },
      shape: { type: "string", default: "tiny" },
      threads: { type: "string", default: "1" },
      "new-tokens": { type: "string", default: "128" },
      runs: { type: "string", default: "3" },
      "transformers-js": { type: "string" },
    },
  });
  const threads = Number(values.threads);
  const newTokens = Number(values["new-tokens"]);
  const runs = Number(values.runs);
  let model = values.model;
  if (model === undefined) {
    model = join(mkdtempSync(join(tmpdir(), "rlef-bench-")), values.shape);
    python(["-m", "rlef_trainer.fixtures.tiny_model", "--out", model, "--shape", values.shape]);
  }
  const folder = readModelFolder(model);
  const policy = await loadOnnxPolicy(model);
  const prompt = await policy.encodeChat(PROMPT);
  await policy.unload();

  const node = await benchPolicy(model, prompt, threads, newTokens, runs);
  const ortPython = JSON.parse(
    python(
      [
        join(REPO, "bench", "decode_ort.py"),
        "--onnx", folder.onnxPath,
        "--config", join(model, "config.json"),
        "--eos", folder.generation.eosTokenIds.join(","),
        "--threads", String(threads),
        "--new-tokens", String(newTokens),
        "--runs", String(runs),
      ],
      JSON.stringify(prompt),
    ),
  ) as EngineResult;
  assert.equal(node.tokens.length, ortPython.tokens.length, "both engines must decode the same number of tokens");
  assert.deepEqual(node.tokens, ortPython.tokens, "both engines must decode the same greedy tokens");

  const rows: [string, EngineResult][] = [
    ["onnxruntime-node policy (ours)", node],
    ["onnxruntime Python + IOBinding", ortPython],
  ];
  if (values["transformers-js"] !== undefined) {
    const tjs = await benchTransformersJs(values["transformers-js"], model, prompt, threads, newTokens, runs);
    assert.equal(tjs.tokens.length, node.tokens.length, "transformers.js must decode the same number of tokens");
    rows.push(["transformers.js generate()", tjs]);
  }
  const base = summary(ortPython);
  console.log(
    `model ${basename(model)} (${folder.shape.layers} layers, vocab ${folder.shape.vocabSize}), prompt ${prompt.length} tokens, ` +
      `${node.tokens.length} new tokens, ${threads} thread(s), median of ${runs} runs`,
  );
  console.log("| engine | time to first token (ms) | decode tokens/s | decode speed vs Python ORT |");
  console.log("|---|---|---|---|");
  for (const [name, result] of rows) {
    const s = summary(result);
    console.log(`| ${name} | ${s.ttftMs.toFixed(2)} | ${s.tokensPerSecond.toFixed(1)} | ${(s.tokensPerSecond / base.tokensPerSecond).toFixed(2)}x |`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
