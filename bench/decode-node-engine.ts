// One Node engine of bench/decode.ts in its own process, speaking the line protocol of
// bench/decode_ort.py --serve: load, warm up, print {"ready": true}, then one measured greedy
// generation per line read from stdin, printed as {"tokens", "run"}.
//
//   node --import tsx bench/decode-node-engine.ts --engine policy|floor --model DIR --prompt FILE
//       --threads 1 --new-tokens 128 --warmup-tokens 128 --warmup-runs 3
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { readModelFolder } from "../server/policy/onnx/model-folder";
import { bareLoopEngine, policyEngine, type Engine } from "./decode-engines";

async function main() {
  const { values } = parseArgs({
    options: {
      engine: { type: "string" },
      model: { type: "string" },
      prompt: { type: "string" },
      threads: { type: "string", default: "1" },
      "new-tokens": { type: "string", default: "128" },
      "warmup-tokens": { type: "string", default: "128" },
      "warmup-runs": { type: "string", default: "3" },
    },
  });
  if (values.model === undefined || values.prompt === undefined) throw new Error("--model and --prompt are required");
  const prompt = JSON.parse(readFileSync(values.prompt, "utf8")) as number[];
  const threads = Number(values.threads);
  const newTokens = Number(values["new-tokens"]);
  const warmup = { tokens: Number(values["warmup-tokens"]), runs: Number(values["warmup-runs"]) };
  let engine: Engine;
  if (values.engine === "policy") engine = await policyEngine(values.model, prompt, threads, newTokens, warmup);
  else if (values.engine === "floor") engine = await bareLoopEngine(readModelFolder(values.model), prompt, threads, newTokens, warmup);
  else throw new Error(`--engine must be policy or floor, got ${values.engine}`);
  console.log(JSON.stringify({ ready: true }));
  for await (const _line of createInterface({ input: process.stdin })) console.log(JSON.stringify(await engine.run()));
  await engine.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
