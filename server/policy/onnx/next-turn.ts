// Token-in/token-out multi-turn prompts (spec/rlef.md §4: never re-tokenise earlier turns).
// The next turn's prompt keeps the previous prompt and completion ids exactly as they were
// sampled and appends only the ids of what the chat template adds after the reply: the end of
// the assistant turn, the new messages and the opened assistant turn.
import type { ChatMessage, NextTurnHistory } from "../types";
import type { ChatTemplateRenderer } from "./chat-template";
import type { ModelTokenizer } from "./tokenizer";

export function encodeNextTurn(
  renderChat: ChatTemplateRenderer,
  tokenizer: Pick<ModelTokenizer, "encode" | "decode">,
  history: NextTurnHistory,
  newMessages: readonly ChatMessage[],
): number[] {
  if (newMessages.length === 0) throw new Error("the next turn needs at least one new message");
  const { messages, result } = history;
  const before = renderChat(messages);
  const after = renderChat([...messages, { role: "assistant", content: result.text }, ...newMessages]);
  if (!after.startsWith(before) || !after.startsWith(result.text, before.length)) {
    throw new Error(
      "this chat template rewrites earlier turns when the conversation grows, so the next prompt cannot " +
        "extend the sampled tokens; render the whole conversation with encodeChat instead",
    );
  }
  // What the template puts after the reply text (e.g. "<|im_end|>\n<|im_start|>user\n...").
  const afterReply = after.slice(before.length + result.text.length);
  // The sampled ids may already cover the start of it: an end-of-turn token the template also
  // writes. Stop sequences and cut-off text are kept as sampled; the template's text follows.
  const sampled = tokenizer.decode(result.completionTokenIds);
  const replyAndRest = result.text + afterReply;
  const bridge = replyAndRest.startsWith(sampled) ? replyAndRest.slice(sampled.length) : afterReply;
  return [...result.promptTokenIds, ...result.completionTokenIds, ...tokenizer.encode(bridge)];
}
