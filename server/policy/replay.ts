// A policy that replays recorded responses in order: deterministic multi-turn tests of the agent loop and
// `rlef eval` (known outcomes, hand-checkable). Never a user setting: the CLI and the editor select it only
// through the RLEF_REPLAY_POLICY environment variable, which test harnesses set.
// Each Unicode code point is one "token" whose id is the code point; log-probs are 0.
import { readFileSync } from "node:fs";
import type { ChatMessage, Generation, GeneratedToken, GenerationResult, Policy, PolicyPrompt, SamplingOptions } from "./types";

export interface ReplayScript {
  /** Responses served in order; after the last one the script wraps around. */
  responses: string[];
  /** Delay between streamed tokens, to make streaming and cancellation observable. Default 0. */
  tokenDelayMs?: number;
}

export function parseReplayScript(text: string, origin: string): ReplayScript {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${origin}: not valid JSON (${(err as Error).message})`);
  }
  const v = value as { responses?: unknown; tokenDelayMs?: unknown };
  if (typeof value !== "object" || value === null || !Array.isArray(v.responses) || v.responses.length === 0) {
    throw new Error(`${origin}: expected {"responses": [string, ...]} with at least one response`);
  }
  if (!v.responses.every((r): r is string => typeof r === "string")) throw new Error(`${origin}: every response must be a string`);
  if (v.tokenDelayMs !== undefined && (typeof v.tokenDelayMs !== "number" || !(v.tokenDelayMs >= 0))) {
    throw new Error(`${origin}: tokenDelayMs must be a non-negative number`);
  }
  return { responses: v.responses, tokenDelayMs: v.tokenDelayMs as number | undefined };
}

export function loadReplayPolicy(path: string): Policy {
  return new ReplayPolicy(parseReplayScript(readFileSync(path, "utf8"), path), `replay:${path}`);
}

function codePoints(text: string): number[] {
  return Array.from(text, (ch) => ch.codePointAt(0) ?? 0);
}

function renderChat(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `<${m.role}>\n${m.content}\n`).join("") + "<assistant>\n";
}

export class ReplayPolicy implements Policy {
  private next = 0;
  /** Every prompt this policy was given, in order (tests inspect the feedback the agent sent). */
  readonly prompts: ChatMessage[][] = [];

  constructor(
    private readonly script: ReplayScript,
    readonly name = "replay",
  ) {}

  async encodeChat(messages: readonly ChatMessage[]): Promise<number[]> {
    return codePoints(renderChat(messages));
  }

  isLoaded(): boolean {
    return true;
  }

  async unload(): Promise<void> {}

  generate(prompt: PolicyPrompt, options: SamplingOptions = {}): Generation {
    const response = this.script.responses[this.next % this.script.responses.length];
    this.next++;
    const promptIds = "messages" in prompt ? codePoints(renderChat(prompt.messages)) : [...prompt.tokenIds];
    if ("messages" in prompt) this.prompts.push(prompt.messages.map((m) => ({ ...m })));
    const maxTokens = options.maxTokens ?? Number.MAX_SAFE_INTEGER;
    const delay = this.script.tokenDelayMs ?? 0;
    const chars = Array.from(response);
    const queue: GeneratedToken[] = [];
    let wake: (() => void) | undefined;
    let finished = false;

    const result: Promise<GenerationResult> = (async () => {
      const ids: number[] = [];
      let text = "";
      let finishReason: GenerationResult["finishReason"] = "stop";
      for (const ch of chars) {
        if (options.signal?.aborted) {
          finishReason = "cancelled";
          break;
        }
        if (ids.length >= maxTokens) {
          finishReason = "length";
          break;
        }
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        const id = ch.codePointAt(0) ?? 0;
        ids.push(id);
        text += ch;
        queue.push({ tokenId: id, text: ch, logprob: 0 });
        wake?.();
      }
      finished = true;
      wake?.();
      return {
        text,
        promptTokenIds: promptIds,
        completionTokenIds: ids,
        completionLogprobs: ids.map(() => 0),
        finishReason,
        usage: { promptTokens: promptIds.length, completionTokens: ids.length },
        seed: options.seed ?? 0,
      };
    })();

    return {
      result,
      async *[Symbol.asyncIterator]() {
        while (true) {
          if (queue.length > 0) {
            yield queue.shift() as GeneratedToken;
            continue;
          }
          if (finished) return;
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      },
    };
  }
}
