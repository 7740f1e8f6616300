// Decode speed of the onnxruntime-node policy backend against onnxruntime's Python API running
// the same .onnx file, with the same thread count, in the same run, as the same greedy loop
// (bench/decode_ort.py: IOBinding, present-to-past reuse). Both must produce the same tokens.
// Optionally also transformers.js (not a dependency: pass the path of an installed copy).
//
// Each engine is a long-lived process of its own (decode_ort.py --serve, decode-node-engine.ts)
// that runs one generation per request; the engines alternate run by run, so on a shared
// machine they see the same background load, and each run also records the process CPU time
// of its decode, which preemption by other jobs barely changes. Every engine first runs
// --warmup-runs generations (default 3) of --warmup-tokens (default: as long as a measured run),
// so Node's JIT and both allocators are measured warm (a cold Node run of the tiny model is up
// to twice as slow while V8 compiles the loop).
//
//   npx tsx bench/decode.ts [--model DIR | --shape tiny|qwen2.5-0.5b] [--threads 1]
//       [--new-tokens 128] [--warmup-tokens N] [--warmup-runs 3] [--runs 3] [--floor] [--per-run]
//       [--ballast] [--start-order 0,1,2] [--reload]
//       [--transformers-js PATH/node_modules/@huggingface/transformers]
//
// --floor adds a third engine: onnxruntime-node's session.run and an argmax, nothing else, the
// least any decode loop on the binding's public API can cost (bench/decode-engines.ts).
// --per-run prints every run's decode CPU time per token, to judge the spread on a busy machine.
// --ballast loads one unmeasured engine first, --start-order sets the order the measured ones
// load in (0 policy, 1 Python, 2 floor): on the dev VM the first process to load the 0.5B model
// decoded up to 10% slower than later ones, whichever engine it was. --reload loads fresh engines
// for every run, turning the load order by one each time, so every engine is first equally often.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { compileChatTemplate } from "../server/policy/onnx/chat-template";
import { readModelFolder } from "../server/policy/onnx/model-folder";
import { loadTokenizer } from "../server/policy/onnx/tokenizer";
import type { ChatMessage } from "../server/policy/types";
import { childEngine, promptFile, PYTHON, REPO, type Engine, type EngineResult, type Run, type Warmup } from "./decode-engines";

const PROMPT: ChatMessage[] = [
  { role: "system", content: "You are a careful Python programmer. Answer with one code block." },
  { role: "user", content: "Write a function `median(xs)` that returns the median of a non-empty list of numbers." },
];

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

/** transformers.js's own generate() on the same folder, greedy, no repetition penalty. */
async function benchTransformersJs(
  path: string,
  model: string,
  prompt: number[],
  threads: number,
  newTokens: number,
  warmup: Warmup,
  runs: number,
): Promise<EngineResult> {
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
  for (let w = 0; w < warmup.runs; w++) await generate(warmup.tokens);
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
  const cpu = result.runs.every((r) => r.decodeCpuMs !== undefined) ? median(result.runs.map((r) => r.decodeCpuMs as number)) : undefined;
  const steps = result.tokens.length - 1;
  return { ttftMs: ttft, tokensPerSecond: (steps * 1000) / decodeMs, cpuMsPerToken: cpu === undefined ? undefined : cpu / steps };
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: "string" },
      shape: { type: "string", default: "tiny" },
      threads: { type: "string", default: "1" },
      "new-tokens": { type: "string", default: "128" },
      "warmup-tokens": { type: "string" },
      "warmup-runs": { type: "string", default: "3" },
      runs: { type: "string", default: "3" },
      "transformers-js": { type: "string" },
      floor: { type: "boolean", default: false },
      "per-run": { type: "boolean", default: false },
      ballast: { type: "boolean", default: false },
      reload: { type: "boolean", default: false },
      "start-order": { type: "string" },
    },
  });
  const threads = Number(values.threads);
  const newTokens = Number(values["new-tokens"]);
  const warmup: Warmup = { tokens: Number(values["warmup-tokens"] ?? newTokens), runs: Number(values["warmup-runs"]) };
  const runs = Number(values.runs);
  let model = values.model;
  if (model === undefined) {
    model = join(mkdtempSync(join(tmpdir(), "rlef-bench-")), values.shape);
    python(["-m", "rlef_trainer.fixtures.tiny_model", "--out", model, "--shape", values.shape]);
  }
  const folder = readModelFolder(model);
  // The prompt through the policy's own tokenizer and chat template, without opening a session
  // that would only take memory from the measured ones.
  const tokenizer = await loadTokenizer(folder.tokenizerJson, folder.tokenizerConfig);
  const prompt = tokenizer.encode((await compileChatTemplate(folder.chatTemplate, tokenizer.specialTokens))(PROMPT));

  const prompts = promptFile(prompt);
  const shared = [
    "--threads", String(threads),
    "--new-tokens", String(newTokens),
    "--warmup-tokens", String(warmup.tokens),
    "--warmup-runs", String(warmup.runs),
    "--prompt", prompts,
  ];
  const pythonArgs = [
    join(REPO, "bench", "decode_ort.py"),
    "--onnx", folder.onnxPath,
    "--config", join(model, "config.json"),
    "--eos", folder.generation.eosTokenIds.join(","),
    ...shared,
    "--serve",
  ];
  const nodeArgs = (engine: string) => ["--import", "tsx", join(REPO, "bench", "decode-node-engine.ts"), "--engine", engine, "--model", model, ...shared];
  const specs: [string, string, string[]][] = [
    ["onnxruntime-node policy (ours)", process.execPath, nodeArgs("policy")],
    ["onnxruntime Python + IOBinding", PYTHON, pythonArgs],
  ];
  if (values.floor === true) specs.push(["floor: bare onnxruntime-node session.run + argmax", process.execPath, nodeArgs("floor")]);
  // On the shared dev VM the first process to load the model decodes up to 10% slower than the
  // ones after it, whichever engine it is (measured: policy started first 0.91x, Python started
  // first 1.02x). A ballast engine loaded first and never measured takes that place.
  const ballast = values.ballast === true ? await childEngine(process.execPath, nodeArgs("floor")) : undefined;
  const startOrder = values["start-order"] === undefined ? specs.map((_, k) => k) : values["start-order"].split(",").map(Number);
  if (startOrder.length !== specs.length || !specs.every((_, k) => startOrder.includes(k))) {
    throw new Error(`--start-order must list each of the engines 0..${specs.length - 1} once, got ${values["start-order"]}`);
  }
  const results: [string, EngineResult][] = specs.map(([name]) => [name, { tokens: [], runs: [] }]);
  // --reload: every run loads fresh processes, and the load order turns by one each run, so each
  // engine is loaded first equally often; otherwise the engines load once, in --start-order.
  const loads = values.reload === true ? runs : 1;
  for (let load = 0; load < loads; load++) {
    const started = new Map<number, Engine>();
    for (let j = 0; j < startOrder.length; j++) {
      const k = startOrder[(j + load) % startOrder.length];
      started.set(k, await childEngine(specs[k][1], specs[k][2]));
    }
    for (let r = 0; r < runs / loads; r++) {
      // Rotate which engine goes first, so none always follows another's cache traffic.
      for (let j = 0; j < specs.length; j++) {
        const k = (j + r + load) % specs.length;
        const { tokens, run } = await (started.get(k) as Engine).run();
        results[k][1].tokens = tokens;
        results[k][1].runs.push(run);
      }
    }
    for (const engine of started.values()) await engine.close();
  }
  await ballast?.close();
  rmSync(dirname(prompts), { recursive: true, force: true });
  const [[, node], [, ortPython]] = results;
  for (const [name, result] of results) {
    assert.deepEqual(result.tokens, ortPython.tokens, `${name} must decode the same greedy tokens as onnxruntime Python`);
  }
  if (values["per-run"] === true) {
    for (const [name, result] of results) {
      const perToken = result.runs.map((r) => (r.decodeCpuMs === undefined ? "-" : (r.decodeCpuMs / (result.tokens.length - 1)).toFixed(3)));
      console.log(`${name}: decode CPU ms/token per run, in order: ${perToken.join(" ")}`);
    }
  }

  const rows: [string, EngineResult][] = [...results];
  if (values["transformers-js"] !== undefined) {
    const tjs = await benchTransformersJs(values["transformers-js"], model, prompt, threads, newTokens, warmup, runs);
    assert.equal(tjs.tokens.length, node.tokens.length, "transformers.js must decode the same number of tokens");
    rows.push(["transformers.js generate()", tjs]);
  }
  const base = summary(ortPython);
  console.log(
    `model ${basename(model)} (${folder.shape.layers} layers, vocab ${folder.shape.vocabSize}), prompt ${prompt.length} tokens, ` +
      `${node.tokens.length} new tokens, ${threads} thread(s), warm-up ${warmup.runs} x ${warmup.tokens} tokens, median of ${runs} alternating runs`,
  );
  console.log("| engine | time to first token (ms) | decode tokens/s | vs Python ORT | decode CPU ms/token | CPU vs Python ORT |");
  console.log("|---|---|---|---|---|---|");
  for (const [name, result] of rows) {
    const s = summary(result);
    const cpu = s.cpuMsPerToken === undefined || base.cpuMsPerToken === undefined ? undefined : s.cpuMsPerToken;
    console.log(
      `| ${name} | ${s.ttftMs.toFixed(2)} | ${s.tokensPerSecond.toFixed(1)} | ${(s.tokensPerSecond / base.tokensPerSecond).toFixed(2)}x | ` +
        `${cpu === undefined ? "-" : cpu.toFixed(3)} | ${cpu === undefined ? "-" : `${((base.cpuMsPerToken as number) / cpu).toFixed(2)}x`} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
