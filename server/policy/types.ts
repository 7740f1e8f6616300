// The policy contract: what the agent loop and the CLI call to get code out of a model.
// Every backend (onnxruntime-node in `onnx/`, an OpenAI-compatible server) implements `Policy`.
// Trajectories are token-in/token-out (spec/rlef.md §4): a prompt may be given as token ids so
// that earlier turns are never re-tokenised, and every streamed piece carries its token id and
// the sampler's log-probability.
// Version of these shapes as seen by other processes: bump on any incompatible change.
export const POLICY_CONTRACT_VERSION = 1;

// One home for chat messages: the environment builds them (server/env/prompts.ts), policies consume them.
import type { ChatMessage } from "../env/prompts";

export type { ChatMessage };
export type ChatRole = ChatMessage["role"];

/**
 * What to continue: a conversation (rendered through the model's chat template, with the
 * assistant turn opened) or token ids the caller already holds (e.g. earlier turns of a rollout).
 */
export type PolicyPrompt = { messages: ChatMessage[] } | { tokenIds: readonly number[] };

export interface SamplingOptions {
  /** 0 means greedy (arg-max). Default: the model's generation_config.json, else 1. */
  temperature?: number;
  /** Nucleus sampling mass in (0, 1]. Default: generation_config.json, else 1. */
  topP?: number;
  /** Keep only the k most probable tokens; 0 disables. Default: generation_config.json, else 0. */
  topK?: number;
  /**
   * Divides positive logits (multiplies negative ones) of every token already in the sequence,
   * as transformers does; 1 disables. Applies to greedy decoding too. Default: generation_config.json, else 1.
   */
  repetitionPenalty?: number;
  /** Most completion tokens to produce; reaching it finishes with "length". Default 512. */
  maxTokens?: number;
  /** Seed of the sampler's own PRNG: the same seed, prompt and options give the same tokens. */
  seed?: number;
  /**
   * Text that ends the completion when it appears; it is not part of the returned text.
   * The model's end-of-sequence tokens always stop generation as well.
   */
  stop?: readonly string[];
  /** Aborting stops generation before the next token is produced; finish reason "cancelled". */
  signal?: AbortSignal;
}

/** One generated token as it streams out. */
export interface GeneratedToken {
  tokenId: number;
  /**
   * Text that became final with this token. May be "" (a token that only completes part of a
   * UTF-8 character, or text held back because it may be the start of a stop sequence).
   */
  text: string;
  /**
   * Natural log of this token's probability under the model at the sampling temperature
   * (temperature 0 counts as 1), before top-p truncation: the behaviour policy's log-prob.
   */
  logprob: number;
}

export type FinishReason = "stop" | "length" | "cancelled";

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface GenerationResult {
  /** The completion's text, without a matched stop sequence or end-of-sequence token. */
  text: string;
  promptTokenIds: number[];
  /** Every token the sampler produced, including a final end-of-sequence token. */
  completionTokenIds: number[];
  /** Sampler log-probability of each entry of completionTokenIds. */
  completionLogprobs: number[];
  finishReason: FinishReason;
  usage: TokenUsage;
  /** The sampler seed used (the caller's, or a random one), so the completion can be reproduced. */
  seed: number;
}

/**
 * A generation in progress: iterate it for tokens as they come, await `result` for the totals.
 * The streamed texts joined equal `result.text`; after a cancel, text held back for a possible
 * stop sequence or an incomplete character is dropped from both.
 */
export interface Generation extends AsyncIterable<GeneratedToken> {
  readonly result: Promise<GenerationResult>;
}

/** A finished turn, to build the next turn's prompt from (see `Policy.encodeNextTurn`). */
export interface NextTurnHistory {
  /** The conversation that was the previous turn's prompt. */
  messages: readonly ChatMessage[];
  result: Pick<GenerationResult, "text" | "promptTokenIds" | "completionTokenIds">;
}

export interface Policy {
  /** Human-readable name of the loaded model (folder name or server model id). */
  readonly name: string;
  /**
   * Starts generating. Tokens are produced whether or not the caller iterates (the iterator
   * buffers), so awaiting `result` alone is fine. Invalid options reject `result` and throw
   * from the iterator; they never produce tokens.
   */
  generate(prompt: PolicyPrompt, options?: SamplingOptions): Generation;
  /** The ids the chat template gives a conversation (what `generate({messages})` feeds the model). */
  encodeChat(messages: readonly ChatMessage[]): Promise<number[]>;
  /**
   * Token-in/token-out prompt of the next turn: `history.result`'s prompt and completion ids
   * unchanged, then the ids of what the chat template adds for the reply's end and `newMessages`.
   * Optional: backends that only take text (OpenAI-compatible servers) do not have it.
   */
  encodeNextTurn?(history: NextTurnHistory, newMessages: readonly ChatMessage[]): Promise<number[]>;
  /** Whether the weights are in memory now (false after an idle unload, until the next generate). */
  isLoaded(): boolean;
  /** Releases the model and its native memory; a later `generate` loads it again. */
  unload(): Promise<void>;
}

export interface PolicyLoadOptions {
  /** Threads onnxruntime uses inside one operator. Default: onnxruntime's own choice (all cores). */
  intraOpThreads?: number;
  /** Unload the model after this many ms without a generation; 0 or absent keeps it loaded. */
  idleUnloadMs?: number;
}
