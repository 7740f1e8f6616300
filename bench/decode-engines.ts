// The engines bench/decode.ts alternates: our policy backend, onnxruntime's Python API
// (bench/decode_ort.py --serve) and, as a floor, the least a Node program can do per token with
// onnxruntime-node's public API. Each warms up, then runs one measured greedy generation per call.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import * as ort from "onnxruntime-node";
import type { ModelFolder } from "../server/policy/onnx/model-folder";
import { loadOnnxPolicy } from "../server/policy/onnx/onnx-policy";

export const REPO = resolve(__dirname, "..");
export const PYTHON = process.env.RLEF_VENV_PYTHON ?? join(REPO, ".venv", "bin", "python");

export interface Run {
  ttftMs: number;
  decodeMs: number;
  /** Process CPU time of the decode (after the first token); absent for transformers.js. */
  decodeCpuMs?: number;
}

export interface EngineResult {
  tokens: number[];
  runs: Run[];
}

/** One engine that the bench alternates with the other: warm up once, then one measured run per call. */
export interface Engine {
  run(): Promise<{ tokens: number[]; run: Run }>;
  close(): Promise<void>;
}

export interface Warmup {
  tokens: number;
  runs: number;
}

export async function policyEngine(model: string, prompt: number[], threads: number, newTokens: number, warmup: Warmup): Promise<Engine> {
  const policy = await loadOnnxPolicy(model, { intraOpThreads: threads });
  const greedy = { temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1 };
  for (let w = 0; w < warmup.runs; w++) await policy.generate({ tokenIds: prompt }, { ...greedy, maxTokens: warmup.tokens }).result;
  return {
    async run() {
      const start = performance.now();
      let first = 0;
      let firstCpu = process.cpuUsage();
      const generation = policy.generate({ tokenIds: prompt }, { ...greedy, maxTokens: newTokens });
      for await (const _token of generation) {
        if (first === 0) {
          first = performance.now();
          firstCpu = process.cpuUsage();
        }
      }
      const end = performance.now();
      const cpu = process.cpuUsage(firstCpu);
      const tokens = (await generation.result).completionTokenIds;
      return { tokens, run: { ttftMs: first - start, decodeMs: end - first, decodeCpuMs: (cpu.user + cpu.system) / 1000 } };
    },
    close: () => policy.unload(),
  };
}

/** Writes the prompt ids where a child engine reads them (--prompt FILE). */
export function promptFile(prompt: number[]): string {
  const file = join(mkdtempSync(join(tmpdir(), "rlef-bench-prompt-")), "prompt.json");
  writeFileSync(file, JSON.stringify(prompt));
  return file;
}

/**
 * An engine in its own process (bench/decode_ort.py --serve, bench/decode-node-engine.ts): it
 * prints {"ready": true} once loaded and warmed up, then runs one generation per line written to
 * it and prints {"tokens", "run"}. Each engine alone in its process, as the policy is in the
 * editor's server: sessions sharing a process were measured to run up to 6% apart depending on
 * which was loaded first.
 */
export async function childEngine(command: string, args: string[]): Promise<Engine> {
  if (!existsSync(command)) throw new Error(`the bench needs ${command}; for the venv run bash .ci/install`);
  const child = spawn(command, args, { cwd: REPO, stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done === true) throw new Error(`${args[args.length - 1] ?? command} exited early (its error is above)`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  await nextLine(); // {"ready": true}
  return {
    async run() {
      child.stdin.write("run\n");
      const reply = await nextLine();
      return { tokens: reply.tokens as number[], run: reply.run as Run };
    },
    async close() {
      child.stdin.end();
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

/**
 * The floor: onnxruntime-node's `session.run` fed its own presents, argmax over the last row, and
 * nothing else (no sampler log-prob, detokenizer, stop sequences or streaming). What this costs
 * per token beyond Python's loop is the binding's per-call cost, which no decode loop written on
 * the public API can avoid: each output is copied into a new JavaScript buffer on every call.
 */
export async function bareLoopEngine(folder: ModelFolder, prompt: number[], threads: number, newTokens: number, warmup: Warmup): Promise<Engine> {
  const session = await ort.InferenceSession.create(folder.onnxPath, {
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    interOpNumThreads: 1,
    intraOpNumThreads: threads,
  });
  const { layers, kvHeads, headDim } = folder.shape;
  const eos = new Set(folder.generation.eosTokenIds);
  const greedy = async (maxTokens: number) => {
    const feeds: Record<string, ort.Tensor> = {};
    for (let i = 0; i < layers; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
    }
    const tokens: number[] = [];
    let ids = prompt;
    let past = 0;
    const start = performance.now();
    let first = 0;
    let firstCpu = process.cpuUsage();
    while (tokens.length < maxTokens) {
      const total = setStepInputs(feeds, ids, past);
      const best = feedPresentsBack(feeds, await session.run(feeds), layers);
      tokens.push(best);
      if (first === 0) {
        first = performance.now();
        firstCpu = process.cpuUsage();
      }
      if (eos.has(best)) break;
      past = total;
      ids = [best];
    }
    const end = performance.now();
    const cpu = process.cpuUsage(firstCpu);
    return { tokens, run: { ttftMs: first - start, decodeMs: end - first, decodeCpuMs: (cpu.user + cpu.system) / 1000 } };
  };
  for (let w = 0; w < warmup.runs; w++) await greedy(warmup.tokens);
  return { run: () => greedy(newTokens), close: () => session.release() };
}

/** The floor's step inputs for running `ids` after `past` positions (fresh tensors); returns the new total. */
export function setStepInputs(feeds: Record<string, ort.Tensor>, ids: number[], past: number): number {
  const total = past + ids.length;
  feeds.input_ids = new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, ids.length]);
  feeds.attention_mask = new ort.Tensor("int64", new BigInt64Array(total).fill(1n), [1, total]);
  feeds.position_ids = new ort.Tensor("int64", BigInt64Array.from(ids, (_, k) => BigInt(past + k)), [1, ids.length]);
  return total;
}

/** Feeds a step's presents back as the next past and returns the argmax of its last logits row. */
export function feedPresentsBack(feeds: Record<string, ort.Tensor>, out: Record<string, ort.Tensor>, layers: number): number {
  for (let i = 0; i < layers; i++) {
    feeds[`past_key_values.${i}.key`] = out[`present.${i}.key`];
    feeds[`past_key_values.${i}.value`] = out[`present.${i}.value`];
  }
  const logits = out.logits.data as Float32Array;
  const vocab = out.logits.dims[2];
  const row = logits.length - vocab;
  let best = 0;
  for (let v = 1; v < vocab; v++) if (logits[row + v] > logits[row + best]) best = v;
  return best;
}
