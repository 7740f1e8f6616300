// Fitting a conversation into the model's context (spec/environment.md, "Episodes"): when problem +
// attempts + feedback exceed the context, drop the oldest failed attempts first (each with its feedback),
// then cut the remaining feedback by the truncation rule. The problem and the latest attempt are never
// dropped. The tokenizer and the context length come from the caller (only it knows the model).
import type { ChatMessage } from "./prompts";
import { truncateText } from "./truncate";

/** Counts the tokens of a whole conversation as the model will see it (chat template included). */
export type CountTokens = (messages: readonly ChatMessage[]) => number;

export interface ContextBudget {
  /** Tokens the prompt may use (the model's context length minus the room kept for the answer). */
  contextLength: number;
  countTokens: CountTokens;
}

export interface FittedContext {
  messages: ChatMessage[];
  /** Failed attempts removed, oldest first (each an assistant message and its feedback). */
  droppedAttempts: number;
  /** The feedback that stayed was cut to fit. */
  truncatedFeedback: boolean;
  tokens: number;
  /** False when even the problem, the latest attempt and the most-cut feedback exceed the budget. */
  fits: boolean;
}

/** Feedback is never cut below this many characters: the marker and the retry instruction must survive. */
export const MIN_FEEDBACK_CHARS = 200;

/**
 * `messages`: the opening messages up to and including the first user message (the problem), then
 * attempts, each an assistant message optionally followed by a user feedback message.
 */
export function fitToContext(messages: readonly ChatMessage[], budget: ContextBudget): FittedContext {
  if (!Number.isInteger(budget.contextLength) || budget.contextLength <= 0) {
    throw new RangeError(`fitToContext: contextLength must be a positive integer, got ${budget.contextLength}`);
  }
  const problemEnd = messages.findIndex((m) => m.role === "user");
  if (problemEnd < 0) throw new Error("fitToContext: the conversation has no user message (the problem)");
  const head = messages.slice(0, problemEnd + 1);
  const attempts = groupAttempts(messages.slice(problemEnd + 1));

  const assemble = (groups: ChatMessage[][]) => [...head, ...groups.flat()];
  let kept = attempts;
  let current = assemble(kept);
  let tokens = budget.countTokens(current);
  let dropped = 0;
  while (tokens > budget.contextLength && kept.length > 1) {
    kept = kept.slice(1);
    dropped++;
    current = assemble(kept);
    tokens = budget.countTokens(current);
  }

  let truncated = false;
  if (tokens > budget.contextLength && kept.length > 0) {
    // Cut every kept feedback message (at this point only the latest attempt's) by halving its length.
    const last = kept[kept.length - 1];
    const feedbackIndex = last.findIndex((m, i) => i > 0 && m.role === "user");
    if (feedbackIndex > 0) {
      const original = last[feedbackIndex].content;
      let maxChars = Array.from(original).length;
      while (tokens > budget.contextLength && maxChars > MIN_FEEDBACK_CHARS) {
        maxChars = Math.max(MIN_FEEDBACK_CHARS, Math.floor(maxChars / 2));
        const cut = truncateText(original, { maxChars, maxLines: Number.MAX_SAFE_INTEGER });
        const group = last.slice();
        group[feedbackIndex] = { ...group[feedbackIndex], content: cut };
        kept = [...kept.slice(0, -1), group];
        current = assemble(kept);
        tokens = budget.countTokens(current);
        truncated = true;
      }
    }
  }
  return { messages: current, droppedAttempts: dropped, truncatedFeedback: truncated, tokens, fits: tokens <= budget.contextLength };
}

function groupAttempts(rest: readonly ChatMessage[]): ChatMessage[][] {
  const groups: ChatMessage[][] = [];
  for (const m of rest) {
    if (m.role === "assistant" || groups.length === 0) groups.push([m]);
    else groups[groups.length - 1].push(m);
  }
  return groups;
}

/** A tokenizer-free estimate for callers without the model's tokenizer: ceil(chars / charsPerToken) + 4 per message. */
export function approximateTokenCounter(charsPerToken: number): CountTokens {
  if (!(charsPerToken > 0)) throw new RangeError(`charsPerToken must be positive, got ${charsPerToken}`);
  return (messages) => messages.reduce((n, m) => n + 4 + Math.ceil(m.content.length / charsPerToken), 0);
}
