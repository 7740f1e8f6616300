// The Python side of the policy tests: the tiny fixture model built by the trainer's own
// script, and transformers/PyTorch as the reference the TypeScript backend must match.
// These tests need the project venv (.venv, created by .ci/install); without it they fail
// with the command to run, never skip.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ChatMessage } from "../../../server/policy/types";

export const REPO_ROOT = resolve(__dirname, "../../..");
const REFERENCE_SCRIPT = join(__dirname, "python", "reference.py");

export function venvPython(): string {
  const python = process.env.RLEF_VENV_PYTHON ?? join(REPO_ROOT, ".venv", "bin", "python");
  if (!existsSync(python)) {
    throw new Error(
      `these tests need the project's Python venv at ${python} (torch, transformers, onnxruntime, rlef_trainer); ` +
        `create it with \`bash .ci/install\` or point RLEF_VENV_PYTHON at a python that has them`,
    );
  }
  return python;
}

export function runPython(args: string[], input = ""): string {
  const result = spawnSync(venvPython(), args, {
    input,
    cwd: REPO_ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, PYTHONPATH: join(REPO_ROOT, "trainer"), TOKENIZERS_PARALLELISM: "false" },
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`python ${args.join(" ")} exited with ${result.status}:\n${result.stderr.slice(-4000)}`);
  }
  return result.stdout;
}

let tinyModel: string | undefined;

/** The trainer's tiny fixture model folder, built once per test process. */
export function tinyModelFolder(): string {
  if (tinyModel === undefined) {
    const out = join(mkdtempSync(join(tmpdir(), "rlef-policy-")), "tiny");
    runPython(["-m", "rlef_trainer.fixtures.tiny_model", "--out", out]);
    tinyModel = out;
  }
  return tinyModel;
}

/** Token ids of each conversation through transformers' apply_chat_template (Jinja2). */
export function pythonChatIds(
  modelDir: string,
  conversations: readonly (readonly ChatMessage[])[],
  templateConfig?: string,
): number[][] {
  const args = [REFERENCE_SCRIPT, "chat-ids", "--model", modelDir];
  if (templateConfig !== undefined) args.push("--template-config", templateConfig);
  return JSON.parse(runPython(args, JSON.stringify(conversations))) as number[][];
}

/** PyTorch's greedy completion of the conversation with the folder's generation_config. */
export function pythonGreedy(modelDir: string, messages: readonly ChatMessage[], maxNewTokens: number) {
  const args = [REFERENCE_SCRIPT, "greedy", "--model", modelDir, "--max-new-tokens", String(maxNewTokens)];
  return JSON.parse(runPython(args, JSON.stringify(messages))) as { prompt: number[]; completion: number[] };
}
