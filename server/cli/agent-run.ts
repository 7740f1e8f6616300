// What `rlef solve` and `rlef eval` share: the model and sampling options, number parsing, and opening the
// policy (an ONNX model folder, the bundled demo by default; a replay policy only through RLEF_REPLAY_POLICY,
// which test harnesses set) and the sandbox (consent to run unisolated only through --allow-unisolated).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { demoModelPath } from "../agent/policy-loader";
import { createSandbox, type Sandbox } from "../env/sandbox";
import { loadOnnxPolicy } from "../policy/onnx/onnx-policy";
import { loadReplayPolicy } from "../policy/replay";
import type { Policy } from "../policy/types";

/** Options every agent-running command accepts (besides its own). */
export const AGENT_RUN_OPTIONS = {
  model: { type: "string" },
  temperature: { type: "string" },
  "top-p": { type: "string" },
  "max-tokens": { type: "string" },
  seed: { type: "string" },
  threads: { type: "string" },
  json: { type: "boolean" },
  benchmarks: { type: "string" },
  "allow-unisolated": { type: "boolean" },
} as const;

/** A non-negative number option (`integer`: a whole number), or `fallback` when absent. */
export function numberOption(value: string | undefined, name: string, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be a non-negative ${integer ? "whole " : ""}number, got '${value}'`);
  }
  return n;
}

export interface AgentRunSetup {
  policy: Policy;
  sandbox: Sandbox;
  close(): Promise<void>;
}

/** Opens the policy and the sandbox, or throws a message for the user (no model, no isolation without consent). */
export async function openAgentRun(values: { model?: string; threads?: string; "allow-unisolated"?: boolean }): Promise<AgentRunSetup> {
  const replay = process.env.RLEF_REPLAY_POLICY;
  const modelDir = values.model ?? demoModelPath();
  if (!replay && !existsSync(join(modelDir, "config.json"))) {
    throw new Error(`no model in ${modelDir} (expected config.json, tokenizer.json and onnx/model.onnx there)`);
  }
  const threads = numberOption(values.threads, "threads", 0, true);
  const sandbox = await createSandbox({ allowUnisolated: values["allow-unisolated"] === true });
  try {
    const policy = replay ? loadReplayPolicy(replay) : await loadOnnxPolicy(modelDir, threads > 0 ? { intraOpThreads: threads } : {});
    return {
      policy,
      sandbox,
      close: async () => {
        await policy.unload();
        await sandbox.dispose();
      },
    };
  } catch (err) {
    await sandbox.dispose();
    throw err;
  }
}

/**
 * Opens the policy and sandbox for `command`, runs `body` with a signal that Ctrl-C aborts, and always
 * closes both. An open failure is the user's message on stderr and exit code 2.
 */
export async function withAgentRun(
  command: string,
  values: Parameters<typeof openAgentRun>[0],
  body: (setup: AgentRunSetup, signal: AbortSignal) => Promise<number>,
): Promise<number> {
  const setup = await openAgentRun(values).catch((e: Error) => e);
  if (setup instanceof Error) {
    process.stderr.write(`rlef ${command}: ${setup.message}\n`);
    return 2;
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  try {
    return await body(setup, controller.signal);
  } finally {
    process.off("SIGINT", onSigint);
    await setup.close();
  }
}
