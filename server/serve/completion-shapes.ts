// The JSON shapes of OpenAI's chat completion API (non-streaming object and streaming chunks),
// built from the policy's tokens and result. One home for the wire format of `rlef serve`.
import type { FinishReason, GeneratedToken, GenerationResult } from "../policy/types";

export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: [];
}

export interface CompletionIdentity {
  id: string;
  created: number;
  model: string;
}

/** OpenAI has no "cancelled": a generation cut short by the client never reaches a client anyway. */
export function wireFinishReason(reason: FinishReason): "stop" | "length" {
  return reason === "length" ? "length" : "stop";
}

/**
 * The logprob entry of one token. The policy reports the text each token made final, not the
 * token's own vocabulary string, so `token` is that text unless the client asked for ids.
 */
export function tokenLogprob(token: GeneratedToken, asTokenId: boolean): TokenLogprob {
  const text = asTokenId ? `token_id:${token.tokenId}` : token.text;
  // JSON has no NaN or -Infinity; a token of probability 0 cannot be sampled, so clamp for safety.
  const logprob = Number.isFinite(token.logprob) ? token.logprob : -9999;
  return { token: text, logprob, bytes: [...Buffer.from(token.text, "utf8")], top_logprobs: [] };
}

export function completionObject(
  identity: CompletionIdentity,
  result: GenerationResult,
  logprobs: TokenLogprob[] | null,
) {
  return {
    id: identity.id,
    object: "chat.completion",
    created: identity.created,
    model: identity.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: result.text },
        logprobs: logprobs === null ? null : { content: logprobs },
        finish_reason: wireFinishReason(result.finishReason),
      },
    ],
    usage: usageObject(result),
    rlef: { seed: result.seed, prompt_token_ids: result.promptTokenIds, completion_token_ids: result.completionTokenIds },
  };
}

export function usageObject(result: GenerationResult) {
  const { promptTokens, completionTokens } = result.usage;
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

export function chunkObject(
  identity: CompletionIdentity,
  delta: { role?: "assistant"; content?: string },
  finishReason: "stop" | "length" | null,
  logprobs: TokenLogprob[] | null,
) {
  return {
    id: identity.id,
    object: "chat.completion.chunk",
    created: identity.created,
    model: identity.model,
    choices: [{ index: 0, delta, logprobs: logprobs === null ? null : { content: logprobs }, finish_reason: finishReason }],
  };
}

export function usageChunkObject(identity: CompletionIdentity, result: GenerationResult) {
  return {
    id: identity.id,
    object: "chat.completion.chunk",
    created: identity.created,
    model: identity.model,
    choices: [],
    usage: usageObject(result),
  };
}
