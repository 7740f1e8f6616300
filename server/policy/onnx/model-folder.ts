// Reads a model folder (design.md, "Model folder"): the layout transformers.js reads from the
// Hub's ONNX repositories and the trainer exports. Every file is checked on load, so a broken
// export fails here with the file and field named, not deep inside onnxruntime.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Which ONNX weights to load: full precision, half precision or one of onnxruntime's quantisations. */
export type OnnxVariant = "fp32" | "fp16" | "quantized" | "q4";

const VARIANT_FILES: Record<OnnxVariant, string[]> = {
  fp32: ["onnx/model.onnx", "model.onnx"],
  fp16: ["onnx/model_fp16.onnx", "model_fp16.onnx"],
  quantized: ["onnx/model_quantized.onnx", "model_quantized.onnx"],
  q4: ["onnx/model_q4.onnx", "model_q4.onnx"],
};

/** Decoder shapes needed to build the KV cache (grouped-query attention: kvHeads <= heads). */
export interface DecoderShape {
  layers: number;
  attentionHeads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  /** Longest sequence the model was trained for (max_position_embeddings), if config.json says. */
  maxPositions?: number;
}

/** Defaults from generation_config.json, used where the caller sets nothing. */
export interface GenerationDefaults {
  eosTokenIds: number[];
  temperature: number;
  topP: number;
  topK: number;
  repetitionPenalty: number;
}

export interface ModelFolder {
  root: string;
  onnxPath: string;
  shape: DecoderShape;
  generation: GenerationDefaults;
  /** Raw tokenizer.json and tokenizer_config.json, handed to the tokenizer library. */
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** Jinja source of the chat template. */
  chatTemplate: string;
}

export function readModelFolder(root: string, variant: OnnxVariant = "fp32"): ModelFolder {
  if (!existsSync(root)) throw new Error(`model folder ${root} does not exist`);
  if (!Object.hasOwn(VARIANT_FILES, variant)) throw new Error(`unknown ONNX variant "${variant}"`);
  const onnxPath = VARIANT_FILES[variant].map((rel) => join(root, rel)).find((p) => existsSync(p));
  if (onnxPath === undefined) {
    throw new Error(`model folder ${root} has no ${variant} decoder (looked for ${VARIANT_FILES[variant].join(", ")})`);
  }
  const config = readJsonObject(root, "config.json");
  const tokenizerJson = readJsonObject(root, "tokenizer.json");
  const tokenizerConfig = readJsonObject(root, "tokenizer_config.json");
  const generationConfig = existsSync(join(root, "generation_config.json"))
    ? readJsonObject(root, "generation_config.json")
    : {};
  return {
    root,
    onnxPath,
    shape: decoderShape(config),
    generation: generationDefaults(generationConfig, config),
    tokenizerJson,
    tokenizerConfig,
    chatTemplate: chatTemplateSource(root, tokenizerConfig),
  };
}

/** transformers 5 saves `chat_template.jinja`; older exports keep it in tokenizer_config.json. */
export function chatTemplateSource(root: string, tokenizerConfig: Record<string, unknown>): string {
  const file = join(root, "chat_template.jinja");
  if (existsSync(file)) return readFileSync(file, "utf8");
  const inline = tokenizerConfig.chat_template;
  if (typeof inline === "string") return inline;
  if (Array.isArray(inline)) {
    // Named templates ([{name, template}]): the chat one is called "default".
    const named = inline.find((t: unknown) => isObject(t) && t.name === "default");
    if (isObject(named) && typeof named.template === "string") return named.template;
  }
  throw new Error(`model folder ${root} has no chat template (neither chat_template.jinja nor chat_template in tokenizer_config.json)`);
}

export function decoderShape(config: Record<string, unknown>): DecoderShape {
  const layers = positiveInt(config, "num_hidden_layers");
  const attentionHeads = positiveInt(config, "num_attention_heads");
  const kvHeads = config.num_key_value_heads === undefined ? attentionHeads : positiveInt(config, "num_key_value_heads");
  if (attentionHeads % kvHeads !== 0) {
    throw new Error(`config.json: num_attention_heads (${attentionHeads}) is not a multiple of num_key_value_heads (${kvHeads})`);
  }
  const headDim =
    config.head_dim === undefined || config.head_dim === null
      ? positiveInt(config, "hidden_size") / attentionHeads
      : positiveInt(config, "head_dim");
  if (!Number.isInteger(headDim)) throw new Error(`config.json: hidden_size is not a multiple of num_attention_heads`);
  const maxPositions = config.max_position_embeddings === undefined ? undefined : positiveInt(config, "max_position_embeddings");
  return { layers, attentionHeads, kvHeads, headDim, vocabSize: positiveInt(config, "vocab_size"), maxPositions };
}

export function generationDefaults(
  generationConfig: Record<string, unknown>,
  config: Record<string, unknown>,
): GenerationDefaults {
  const eos = generationConfig.eos_token_id ?? config.eos_token_id;
  const eosTokenIds = eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  for (const id of eosTokenIds) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new Error(`generation_config.json: eos_token_id must be a token id or a list of them, got ${JSON.stringify(eos)}`);
    }
  }
  // do_sample=false means the model's authors meant greedy decoding by default.
  const sampling = generationConfig.do_sample !== false;
  const temperature = sampling ? optionalNumber(generationConfig, "temperature", 1) : 0;
  const topP = optionalNumber(generationConfig, "top_p", 1);
  const topK = optionalNumber(generationConfig, "top_k", 0);
  const repetitionPenalty = optionalNumber(generationConfig, "repetition_penalty", 1);
  return { eosTokenIds: eosTokenIds as number[], temperature, topP, topK, repetitionPenalty };
}

function readJsonObject(root: string, name: string): Record<string, unknown> {
  const path = join(root, name);
  if (!existsSync(path)) throw new Error(`model folder ${root} is missing ${name}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) throw new Error(`${path} must hold a JSON object`);
  return parsed;
}

function positiveInt(config: Record<string, unknown>, key: string): number {
  const value = config[key];
  if (!Number.isInteger(value) || (value as number) <= 0) {
    throw new Error(`config.json: ${key} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

function optionalNumber(config: Record<string, unknown>, key: string, fallback: number): number {
  const value = config[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`generation_config.json: ${key} must be a number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
