// The onnxruntime-node policy backend: a model folder in, a `Policy` out. Tokenizer and chat
// template stay loaded (small); the decoder session, which holds the weights, is opened on
// first use and released after the idle timeout.
import { randomInt } from "node:crypto";
import { basename } from "node:path";
import { IdleUnloader } from "../idle-unloader";
import { applyRepetitionPenalty, sampleToken, validateSamplerSettings, type SamplerSettings } from "../sampler";
import { seededRandom } from "../seeded-random";
import { StopSequenceMatcher } from "../stop-sequences";
import { TokenStream } from "../token-stream";
import type {
  ChatMessage,
  FinishReason,
  GeneratedToken,
  Generation,
  GenerationResult,
  Policy,
  PolicyLoadOptions,
  PolicyPrompt,
  SamplingOptions,
} from "../types";
import { compileChatTemplate, type ChatTemplateRenderer } from "./chat-template";
import { openDecoderSession, type DecoderSession } from "./kv-cache-decoder";
import { encodeNextTurn } from "./next-turn";
import { readModelFolder, type ModelFolder, type OnnxVariant } from "./model-folder";
import { IncrementalDetokenizer, loadTokenizer, type ModelTokenizer } from "./tokenizer";

export const DEFAULT_MAX_TOKENS = 512;

export interface OnnxPolicyOptions extends PolicyLoadOptions {
  /** Which weights in the folder: fp32 (default) or a quantised variant. */
  variant?: OnnxVariant;
}

export async function loadOnnxPolicy(folderPath: string, options: OnnxPolicyOptions = {}): Promise<Policy> {
  const folder = readModelFolder(folderPath, options.variant ?? "fp32");
  const tokenizer = await loadTokenizer(folder.tokenizerJson, folder.tokenizerConfig);
  const renderChat = await compileChatTemplate(folder.chatTemplate, tokenizer.specialTokens);
  const eosTokenIds = new Set(folder.generation.eosTokenIds);
  const eosToken = tokenizer.specialTokens.eos_token;
  const eosFromTokenizer = eosToken === undefined ? undefined : tokenizer.tokenId(eosToken);
  if (eosTokenIds.size === 0 && eosFromTokenizer !== undefined) eosTokenIds.add(eosFromTokenizer);

  const session = new IdleUnloader<DecoderSession>(
    () => openDecoderSession(folder.onnxPath, folder.shape, { intraOpThreads: options.intraOpThreads }),
    (s) => s.release(),
    options.idleUnloadMs ?? 0,
  );
  // Open once now so that a broken model fails at load, not at the first request.
  await session.use(async () => undefined);

  // One generation at a time: they would only compete for the same cores.
  let queue: Promise<unknown> = Promise.resolve();
  const model: LoadedModel = { folder, tokenizer, renderChat, eosTokenIds };

  return {
    name: basename(folderPath),
    encodeChat: async (messages) => encodeChat(model, messages),
    encodeNextTurn: async (history, newMessages) => encodeNextTurn(renderChat, tokenizer, history, newMessages),
    unload: () => session.unload(),
    isLoaded: () => session.isLoaded,
    generate(prompt, sampling = {}) {
      const stream = new TokenStream<GeneratedToken>();
      const run = () => session.use((decoder) => decode(model, decoder, prompt, sampling, stream));
      const result = queue.then(run, run);
      queue = result.catch(() => undefined);
      // This handler also keeps a caller who only iterates from an unhandled rejection: the
      // failure reaches them through the iterator instead.
      result.catch((error: unknown) => stream.fail(error));
      return { result, [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator]() } satisfies Generation;
    },
  };
}

interface LoadedModel {
  folder: ModelFolder;
  tokenizer: ModelTokenizer;
  renderChat: ChatTemplateRenderer;
  eosTokenIds: Set<number>;
}

function encodeChat(model: LoadedModel, messages: readonly ChatMessage[]): number[] {
  return model.tokenizer.encode(model.renderChat(messages));
}

async function decode(
  model: LoadedModel,
  decoder: DecoderSession,
  prompt: PolicyPrompt,
  options: SamplingOptions,
  stream: TokenStream<GeneratedToken>,
): Promise<GenerationResult> {
  const { shape, generation } = model.folder;
  const settings: SamplerSettings = {
    temperature: options.temperature ?? generation.temperature,
    topP: options.topP ?? generation.topP,
    topK: options.topK ?? generation.topK,
    repetitionPenalty: options.repetitionPenalty ?? generation.repetitionPenalty,
  };
  validateSamplerSettings(settings);
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new Error(`maxTokens must be a positive integer, got ${maxTokens}`);
  const seed = options.seed ?? randomInt(2 ** 47);
  const random = seededRandom(seed);
  const stopper = new StopSequenceMatcher(options.stop ?? []);
  const promptTokenIds = promptIds(model, prompt);
  const positionLimit = shape.maxPositions ?? Infinity;
  if (promptTokenIds.length >= positionLimit) {
    throw new Error(`prompt has ${promptTokenIds.length} tokens; the model takes at most ${positionLimit} positions`);
  }

  // transformers penalises every token of the sequence, prompt included.
  const seenTokenIds = new Set(promptTokenIds);
  const detokenizer = new IncrementalDetokenizer(model.tokenizer);
  const completionTokenIds: number[] = [];
  const completionLogprobs: number[] = [];
  let text = "";
  let finishReason: FinishReason;
  const emit = (token: GeneratedToken) => {
    completionTokenIds.push(token.tokenId);
    completionLogprobs.push(token.logprob);
    seenTokenIds.add(token.tokenId);
    text += token.text;
    stream.push(token);
  };

  const sequence = decoder.newSequence();
  // A request cancelled while it waited in the queue costs no prefill.
  let logits = options.signal?.aborted ? new Float32Array(0) : await sequence.forward(promptTokenIds);
  for (;;) {
    // Checked after every forward pass: a cancel lands before the next token is emitted.
    if (options.signal?.aborted) {
      finishReason = "cancelled";
      break;
    }
    applyRepetitionPenalty(logits, seenTokenIds, settings.repetitionPenalty);
    const { tokenId, logprob } = sampleToken(logits, settings, random);
    if (model.eosTokenIds.has(tokenId)) {
      emit({ tokenId, logprob, text: stopper.push(detokenizer.flush()).emit + stopper.flush() });
      finishReason = "stop";
      break;
    }
    const scan = stopper.push(detokenizer.push(tokenId));
    const last = scan.stopped || completionTokenIds.length + 1 >= maxTokens || sequence.length + 1 >= positionLimit;
    const tail = last && !scan.stopped ? stopper.push(detokenizer.flush()).emit + stopper.flush() : "";
    emit({ tokenId, logprob, text: scan.emit + tail });
    if (last) {
      finishReason = scan.stopped ? "stop" : "length";
      break;
    }
    logits = await sequence.forward([tokenId]);
  }
  stream.end();
  return {
    text,
    promptTokenIds,
    completionTokenIds,
    completionLogprobs,
    finishReason,
    usage: { promptTokens: promptTokenIds.length, completionTokens: completionTokenIds.length },
    seed,
  };
}

function promptIds(model: LoadedModel, prompt: PolicyPrompt): number[] {
  if (typeof prompt !== "object" || prompt === null) throw new Error("a prompt must be {messages} or {tokenIds}");
  if ("messages" in prompt) return encodeChat(model, prompt.messages);
  if (!("tokenIds" in prompt)) throw new Error("a prompt needs either messages or tokenIds");
  const ids = prompt.tokenIds;
  const vocab = model.folder.shape.vocabSize;
  if (!Array.isArray(ids) || ids.length === 0) throw new Error("prompt tokenIds must be a non-empty array");
  ids.forEach((id, index) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new Error(`prompt tokenIds[${index}] = ${id} is not a token id of this model (0..${vocab - 1})`);
    }
  });
  return [...ids];
}
