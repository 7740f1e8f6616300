// Which files of a Hub repository make a model folder (design.md, "Model folder"): the JSON and
// template files at the root, and one ONNX decoder variant with its external weight files.
// Everything else (PyTorch weights, other variants, READMEs, images) stays on the Hub.
import type { OnnxVariant } from "../policy/onnx/model-folder";
import type { HubFile } from "./hub-listing";

export const ONNX_VARIANTS: readonly OnnxVariant[] = ["fp32", "fp16", "quantized", "q4"];

const ROOT_FILES = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"];
const REQUIRED_ROOT_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json"];
const DECODER_STEM: Record<OnnxVariant, string> = { fp32: "model", fp16: "model_fp16", quantized: "model_quantized", q4: "model_q4" };

export function parseVariant(value: string): OnnxVariant {
  if (!(ONNX_VARIANTS as readonly string[]).includes(value)) {
    throw new Error(`unknown ONNX variant "${value}"; choose one of ${ONNX_VARIANTS.join(", ")}`);
  }
  return value as OnnxVariant;
}

/** A repository path is written under the model folder, so it must stay inside it. */
export function assertSafeRepoPath(path: string): void {
  const parts = path.split("/");
  if (path.startsWith("/") || path.includes("\\") || path.includes("\0") || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new Error(`the Hub listed an unsafe file path ${JSON.stringify(path)}; refusing to write it`);
  }
}

export function selectModelFiles(files: readonly HubFile[], variant: OnnxVariant, repo: string): HubFile[] {
  for (const file of files) assertSafeRepoPath(file.path);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const missing = REQUIRED_ROOT_FILES.filter((name) => !byPath.has(name));
  if (missing.length > 0) throw new Error(`${repo} is not an ONNX model repository: it has no ${missing.join(", ")}`);
  const stem = DECODER_STEM[variant];
  // transformers.js layout first (onnx/), then optimum's root-level export.
  const decoder = [`onnx/${stem}.onnx`, `${stem}.onnx`].map((p) => byPath.get(p)).find((f) => f !== undefined);
  if (decoder === undefined) {
    const available = ONNX_VARIANTS.filter((v) => byPath.has(`onnx/${DECODER_STEM[v]}.onnx`) || byPath.has(`${DECODER_STEM[v]}.onnx`));
    throw new Error(
      `${repo} has no ${variant} decoder (onnx/${stem}.onnx)` + (available.length > 0 ? `; available variants: ${available.join(", ")}` : "; it has no ONNX decoder at all"),
    );
  }
  // External data: model.onnx_data, model.onnx_data_1, ... and model.onnx.data, next to the decoder.
  const externalData = files.filter((f) => f.path.startsWith(`${decoder.path}_data`) || f.path.startsWith(`${decoder.path}.data`));
  const roots = ROOT_FILES.map((name) => byPath.get(name)).filter((f): f is HubFile => f !== undefined);
  return [...roots, decoder, ...externalData];
}
