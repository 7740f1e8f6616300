// The evaluation procedure of spec/rlef.md §5, "Project's evaluation procedure": every model response is
// one sample; a draw is a fresh set of rollouts (never resampled from a pool).
//   MT 1@3:  one rollout of up to 3 turns; its last code is submitted.
//   ST 1@3:  up to 3 independent single-turn samples; the first that passes the public tests is submitted,
//            else the last.
//   n@k:     rollouts until k responses are spent (the last rollout is cut at the budget); up to n final
//            solutions are submitted, those passing the public tests first, in sampling order.
// A draw is solved when a submitted solution passes every public and private test.
import { runAgentEpisode, type AgentOptions, type Trajectory } from "../agent/agent";
import type { Task } from "../env/types";
import type { Policy } from "../policy/types";

/** What the procedure samples with: temperature and top-p only. A model folder's other sampling defaults
 * (Qwen2.5's generation_config.json: top_k 20, repetition_penalty 1.1), meant for chatting, are switched off:
 * the spec's 1@3 is "temperature 0.2, top-p 0.95", the policy's own distribution otherwise. */
export interface ProcedureSampling {
  temperature: number;
  topP: number;
  topK: 0;
  repetitionPenalty: 1;
  maxTokens: number;
}

export function procedureSampling(temperature: number, topP: number, maxTokens: number): ProcedureSampling {
  return { temperature, topP, topK: 0, repetitionPenalty: 1, maxTokens };
}

export type EvalMode = { kind: "mt"; turns: number } | { kind: "st"; samples: number } | { kind: "n-at-k"; n: number; k: number; turns: number };

export function modeName(mode: EvalMode): string {
  switch (mode.kind) {
    case "mt":
      return `MT 1@${mode.turns}`;
    case "st":
      return `ST 1@${mode.samples}`;
    case "n-at-k":
      return `${mode.n}@${mode.k}`;
  }
}

export interface DrawResult {
  solved: boolean;
  /** Responses the draw used (≤ its budget; early stops leave budget unused). */
  samples: number;
  rollouts: number;
}

/** Everything a draw needs besides the task, the policy and the mode. */
export type DrawOptions = Omit<AgentOptions, "maxTurns" | "onEvent">;

interface Submission {
  passedPublic: boolean;
  passedAll: boolean;
}

function submissionOf(t: Trajectory): Submission {
  const final = t.final;
  if (!final || final.code === "") return { passedPublic: false, passedAll: false };
  const publicResults = final.results.filter((r) => r.visibility === "public");
  return { passedPublic: publicResults.length > 0 && publicResults.every((r) => r.outcome === "passed"), passedAll: final.passed };
}

export async function runDraw(task: Task, policy: Policy, mode: EvalMode, options: DrawOptions): Promise<DrawResult> {
  const play = (turns: number, seedOffset: number) =>
    runAgentEpisode(task, policy, { ...options, maxTurns: turns, seed: options.seed === undefined ? undefined : options.seed + seedOffset * 1000 });
  switch (mode.kind) {
    case "mt": {
      const t = await play(mode.turns, 0);
      return { solved: submissionOf(t).passedAll, samples: t.turns.length, rollouts: 1 };
    }
    case "st": {
      let last: Submission = { passedPublic: false, passedAll: false };
      let samples = 0;
      for (let i = 0; i < mode.samples; i++) {
        const t = await play(1, i);
        samples += t.turns.length;
        last = submissionOf(t);
        if (last.passedPublic) break;
      }
      return { solved: last.passedAll, samples, rollouts: samples };
    }
    case "n-at-k": {
      const finals: Submission[] = [];
      let spent = 0;
      let rollouts = 0;
      while (spent < mode.k) {
        const t = await play(Math.min(mode.turns, mode.k - spent), rollouts);
        rollouts++;
        spent += Math.max(1, t.turns.length);
        finals.push(submissionOf(t));
      }
      // Public-passing finals first, then the rest, each group in sampling order; submit the first n.
      const ordered = [...finals.filter((f) => f.passedPublic), ...finals.filter((f) => !f.passedPublic)];
      return { solved: ordered.slice(0, mode.n).some((f) => f.passedAll), samples: spent, rollouts };
    }
  }
}

/** Parses "mt", "st", "10@100" (with the turn count for multi-turn rollouts). */
export function parseMode(text: string, turns: number): EvalMode {
  if (text === "mt") return { kind: "mt", turns };
  if (text === "st") return { kind: "st", samples: turns };
  const m = /^(\d+)@(\d+)$/.exec(text);
  if (m) {
    const n = Number(m[1]);
    const k = Number(m[2]);
    if (n < 1 || k < 1 || n > k) throw new Error(`bad n@k '${text}': need 1 ≤ n ≤ k`);
    return { kind: "n-at-k", n, k, turns };
  }
  throw new Error(`unknown evaluation mode '${text}' (use mt, st or n@k such as 10@100)`);
}
