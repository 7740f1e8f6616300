// Is the tiny model's gap to onnxruntime Python in onnxruntime-common's JavaScript wrapper or in the native
// binding? The same greedy KV-cache loop three ways, alternating, median of 20 rounds of 400 tokens:
// `session.run` (public API: argument checks and a setImmediate hop per call), the binding's native `run`
// called synchronously (no wrapper), and the same yielding to the event loop only every 32 tokens.
//
//   npx tsx bench/decode-native-run.ts MODEL_DIR     (e.g. from python -m rlef_trainer.fixtures.tiny_model)
//
// Uses onnxruntime-node's internal `dist/binding.js` (not public API): a measurement, not something to ship.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { feedPresentsBack, setStepInputs } from "./decode-engines";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { binding, initOrt } = require(join(require.resolve("onnxruntime-node"), "..", "binding.js"));

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error("usage: decode-native-run.ts MODEL_DIR");
  const path = join(dir, "onnx", "model.onnx");
  const layers = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).num_hidden_layers as number;
  const opts = { graphOptimizationLevel: "all", executionMode: "sequential", interOpNumThreads: 1, intraOpNumThreads: 1 } as const;
  const session = await ort.InferenceSession.create(path, opts);
  initOrt();
  const native = new binding.InferenceSession();
  native.loadModel(path, opts);
  const meta = session.inputMetadata.find((m) => m.name === "past_key_values.0.key") as { shape: readonly (number | string)[] };
  const [kvHeads, headDim] = [meta.shape[1] as number, meta.shape[3] as number];
  const fetches: Record<string, null> = Object.fromEntries(session.outputNames.map((o) => [o, null]));
  const loop = async (mode: string, steps: number) => {
    const feeds: Record<string, ort.Tensor> = {};
    for (let i = 0; i < layers; i++) {
      for (const p of ["key", "value"]) feeds[`past_key_values.${i}.${p}`] = new ort.Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
    }
    let ids = [1, 2, 3, 4, 5, 6, 7, 8];
    let past = 0;
    const tokens: number[] = [];
    const start = performance.now();
    for (let s = 0; s < steps; s++) {
      const total = setStepInputs(feeds, ids, past);
      let out: Record<string, ort.Tensor>;
      if (mode === "session.run") out = await session.run(feeds);
      else {
        out = native.run(feeds, fetches, {});
        if (mode === "native, yield every 32" && (s & 31) === 31) await new Promise((r) => setImmediate(r));
      }
      const best = feedPresentsBack(feeds, out, layers);
      tokens.push(best);
      past = total;
      ids = [best];
    }
    return { usPerToken: ((performance.now() - start) / steps) * 1000, tokens };
  };
  const modes = ["session.run", "native run", "native, yield every 32"];
  const times: Record<string, number[]> = {};
  for (let round = 0; round < 20; round++) {
    let reference: string | undefined;
    for (let j = 0; j < modes.length; j++) {
      const mode = modes[(j + round) % modes.length];
      const r = await loop(mode, 400);
      if (reference !== undefined && reference !== r.tokens.join()) throw new Error(`${mode} decoded other tokens`);
      reference = r.tokens.join();
      (times[mode] ??= []).push(r.usPerToken);
    }
  }
  for (const mode of modes) {
    const sorted = times[mode].sort((a, b) => a - b);
    console.log(`${mode}: median ${sorted[sorted.length >> 1].toFixed(1)} us/token`);
  }
}

void main();
