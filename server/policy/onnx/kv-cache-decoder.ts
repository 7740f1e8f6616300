// One onnxruntime session over the decoder, and the KV-cache forward pass: the prompt is run
// once (prefill), then each new token runs alone while the `present.{i}.*` outputs of one step
// are fed back as `past_key_values.{i}.*` of the next, so a step costs one position, not the
// whole sequence.
import * as ort from "onnxruntime-node";
import type { DecoderShape } from "./model-folder";
import { StepInputs } from "./step-inputs";

export interface DecoderSessionOptions {
  /** Threads inside one operator; absent = onnxruntime's default (all cores). */
  intraOpThreads?: number;
}

export interface DecoderSession {
  /** A fresh KV cache; each generation gets its own. */
  newSequence(): DecoderSequence;
  release(): Promise<void>;
}

export interface DecoderSequence {
  /**
   * Runs `ids` after everything run so far and returns the logits of the last position: an array
   * of this call's own (later calls do not change it), which the caller may modify.
   */
  forward(ids: readonly number[]): Promise<Float32Array>;
  /** Positions in the cache. */
  readonly length: number;
}

export async function openDecoderSession(
  onnxPath: string,
  shape: DecoderShape,
  options: DecoderSessionOptions = {},
): Promise<DecoderSession> {
  const threads = options.intraOpThreads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new Error(`intraOpThreads must be a positive integer, got ${threads}`);
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnxPath, {
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      interOpNumThreads: 1,
      ...(threads === undefined ? {} : { intraOpNumThreads: threads }),
    });
  } catch (error) {
    throw new Error(`onnxruntime could not load ${onnxPath}: ${(error as Error).message}`);
  }
  const io = checkSignature(session, shape, onnxPath);
  return {
    newSequence: () => newSequence(session, shape, io),
    release: () => session.release(),
  };
}

interface DecoderIo {
  hasPositionIds: boolean;
  kvType: "float32" | "float16";
}

/** Fails on load, naming what is wrong, when the graph is not the decoder design.md describes. */
function checkSignature(session: ort.InferenceSession, shape: DecoderShape, onnxPath: string): DecoderIo {
  const inputs = new Set(session.inputNames);
  const outputs = new Set(session.outputNames);
  const required = ["input_ids", "attention_mask"];
  const requiredOut = ["logits"];
  for (let i = 0; i < shape.layers; i++) {
    required.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
    requiredOut.push(`present.${i}.key`, `present.${i}.value`);
  }
  const missing = [...required.filter((n) => !inputs.has(n)), ...requiredOut.filter((n) => !outputs.has(n))];
  if (missing.length > 0) {
    throw new Error(
      `${onnxPath} is not a KV-cache decoder with ${shape.layers} layers (config.json): missing ${missing.join(", ")}`,
    );
  }
  const pastMeta = session.inputMetadata.find((m) => m.name === "past_key_values.0.key");
  const kvType = pastMeta !== undefined && pastMeta.isTensor ? pastMeta.type : "float32";
  if (kvType !== "float32" && kvType !== "float16") {
    throw new Error(`${onnxPath}: KV cache of type ${kvType} is not supported (float32 or float16)`);
  }
  return { hasPositionIds: inputs.has("position_ids"), kvType };
}

function newSequence(session: ort.InferenceSession, shape: DecoderShape, io: DecoderIo): DecoderSequence {
  const emptyPast = (): ort.Tensor => {
    const dims = [1, shape.kvHeads, 0, shape.headDim];
    return io.kvType === "float16" ? new ort.Tensor("float16", new Uint16Array(0), dims) : new ort.Tensor("float32", new Float32Array(0), dims);
  };
  // One feeds object for the whole sequence, updated in place: the past entries are replaced by
  // the step's presents, the int64 inputs are views of buffers that StepInputs reuses.
  const feeds: Record<string, ort.Tensor> = {};
  const pastNames: string[] = [];
  const presentNames: string[] = [];
  for (let i = 0; i < shape.layers; i++) {
    for (const part of ["key", "value"]) {
      pastNames.push(`past_key_values.${i}.${part}`);
      presentNames.push(`present.${i}.${part}`);
      feeds[`past_key_values.${i}.${part}`] = emptyPast();
    }
  }
  const inputs = new StepInputs();
  let length = 0;

  return {
    get length() {
      return length;
    },
    async forward(ids) {
      if (ids.length === 0) throw new Error("forward needs at least one token");
      const step = inputs.next(ids, length);
      feeds.input_ids = step.inputIds;
      feeds.attention_mask = step.attentionMask;
      if (io.hasPositionIds) feeds.position_ids = step.positionIds;
      const out = await session.run(feeds);
      // The presents come back as JavaScript-owned copies, so feeding them as the next past
      // costs no further copy (onnxruntime-node wraps an input's memory as is).
      for (let k = 0; k < pastNames.length; k++) feeds[pastNames[k]] = out[presentNames[k]];
      length += ids.length;
      return lastLogits(out.logits, shape.vocabSize);
    },
  };
}

/** Logits are [batch, positions, vocab]; only the last position picks the next token. */
function lastLogits(logits: ort.Tensor, configVocab: number): Float32Array {
  const vocab = logits.dims[logits.dims.length - 1];
  const positions = logits.dims.length === 3 ? logits.dims[1] : 1;
  if (vocab < configVocab) throw new Error(`logits have ${vocab} entries, config.json says vocab_size ${configVocab}`);
  const start = (positions - 1) * vocab;
  // A view, not a copy: the output buffer belongs to this step alone (a 600 KB copy per token
  // at a 150k vocabulary otherwise); the sampler may change it in place.
  if (logits.type === "float32") return (logits.data as Float32Array).subarray(start, start + vocab);
  if (logits.type === "float16") return halfToFloat((logits.data as Uint16Array).subarray(start, start + vocab));
  throw new Error(`logits of type ${logits.type} are not supported`);
}

function halfToFloat(half: Uint16Array): Float32Array {
  const out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) {
    const h = half[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    out[i] =
      exponent === 0
        ? sign * 2 ** -14 * (fraction / 1024)
        : exponent === 31
          ? fraction === 0
            ? sign * Infinity
            : NaN
          : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return out;
}
