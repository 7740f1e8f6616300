// The RLEF agent loop: one episode of a policy against the environment, exactly as in training
// (server/env's prompts, feedback and judging), streamed as events. The editor, `rlef solve` and
// `rlef eval` all run episodes through `runAgentEpisode`.
import { Episode, type EpisodeOptions, type FinalEvaluation, type RunTestsFn } from "../env/episode";
import type { ContextBudget } from "../env/context-budget";
import type { RandomFeedbackDonor } from "../env/donor";
import type { IsolationReport, Task, TestResult } from "../env/types";
import type { ChatMessage, FinishReason, Policy, SamplingOptions } from "../policy/types";

/** Version of the trajectory record as written to disk and sent over LSP. */
export const TRAJECTORY_VERSION = 1;

export type AgentEvent =
  | { type: "turn-started"; turn: number; maxTurns: number }
  | { type: "token"; turn: number; text: string; tokenId: number }
  | { type: "code-extracted"; turn: number; code: string; invalid: boolean }
  | { type: "test-results"; turn: number; results: TestResult[]; passed: boolean; isolation?: IsolationReport; runError?: string }
  | { type: "feedback"; turn: number; text: string }
  | { type: "done"; trajectory: Trajectory };

export interface TurnRecord {
  turn: number;
  /** The conversation the model saw this turn (after context fitting). */
  prompt: ChatMessage[];
  response: string;
  promptTokenIds: number[];
  completionTokenIds: number[];
  completionLogprobs: number[];
  finishReason: FinishReason;
  code: string;
  invalid: boolean;
  results: TestResult[];
  publicPassed: boolean;
  /** The feedback message that followed this turn (absent on the last turn). */
  feedback?: string;
  reward: number;
  timings: { generationMs: number; testMs: number; overheadMs: number };
  tokens: { prompt: number; completion: number };
}

export interface Trajectory {
  version: typeof TRAJECTORY_VERSION;
  taskId: string;
  policy: string;
  turns: TurnRecord[];
  /** "solved": final code passed public + private tests; "failed": it did not; "cancelled": stopped by the user. */
  outcome: "solved" | "failed" | "cancelled";
  final?: FinalEvaluation;
  /** Sum of the per-turn environment rewards (without the trainer's KL term). */
  totalReward: number;
  isolation?: IsolationReport;
  startedAt: string;
  wallMs: number;
}

export interface AgentOptions {
  /** Runs tests in the environment; receives the cancellation signal so a cancel kills running tests. */
  runTests: (task: Task, code: string, which: "public" | "all", signal: AbortSignal) => ReturnType<RunTestsFn>;
  maxTurns?: number;
  sampling?: Omit<SamplingOptions, "signal" | "seed">;
  /** Seed for sampling (turn t uses seed + t) and for the random-feedback donor. */
  seed?: number;
  randomFeedback?: RandomFeedbackDonor;
  contextBudget?: ContextBudget;
  targetSource?: string;
  /** "One more round": continue this conversation (it ends with the feedback on the last attempt). */
  continueConversation?: ChatMessage[];
  signal?: AbortSignal;
  onEvent?: (event: AgentEvent) => void;
}

export class AgentCancelledError extends Error {
  constructor() {
    super("the agent run was cancelled");
    this.name = "AgentCancelledError";
  }
}

/** Plays one episode of `policy` on `task`; resolves with the trajectory (also on cancel, outcome "cancelled"). */
export async function runAgentEpisode(task: Task, policy: Policy, options: AgentOptions): Promise<Trajectory> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const signal = options.signal ?? new AbortController().signal;
  const emit = options.onEvent ?? (() => {});
  let testMs = 0;
  const episodeOptions: EpisodeOptions = {
    runTests: async (t, code, which) => {
      const t0 = performance.now();
      try {
        return await options.runTests(t, code, which, signal);
      } finally {
        testMs += performance.now() - t0;
      }
    },
    maxTurns: options.maxTurns,
    seed: options.seed,
    randomFeedback: options.randomFeedback,
    contextBudget: options.contextBudget,
    targetSource: options.targetSource,
    continueConversation: options.continueConversation,
  };
  const episode = new Episode(task, episodeOptions);
  let prompt: ChatMessage[] = episode.reset();
  // Token-in/token-out: after turn 1 the prompt is the previous ids plus only what the chat template adds,
  // so earlier turns are never re-tokenised (a turn whose history the context budget shortened starts afresh).
  let promptIds: number[] | null = null;
  const turns: TurnRecord[] = [];
  let final: FinalEvaluation | undefined;
  let isolation: IsolationReport | undefined;

  const finish = (outcome: Trajectory["outcome"]): Trajectory => {
    const trajectory: Trajectory = {
      version: TRAJECTORY_VERSION,
      taskId: task.id,
      policy: policy.name,
      turns,
      outcome,
      totalReward: turns.reduce((sum, t) => sum + t.reward, 0),
      startedAt,
      wallMs: Date.now() - started,
    };
    if (final) trajectory.final = final;
    if (isolation) trajectory.isolation = isolation;
    emit({ type: "done", trajectory });
    return trajectory;
  };

  for (let turn = 1; turn <= episode.maxTurns; turn++) {
    if (signal.aborted) return finish("cancelled");
    const turnStart = performance.now();
    emit({ type: "turn-started", turn, maxTurns: episode.maxTurns });

    const sampling: SamplingOptions = { ...options.sampling, signal };
    if (options.seed !== undefined) sampling.seed = options.seed + turn;
    const generation = policy.generate(promptIds ? { tokenIds: promptIds } : { messages: prompt }, sampling);
    const genStart = performance.now();
    for await (const token of generation) emit({ type: "token", turn, text: token.text, tokenId: token.tokenId });
    const generated = await generation.result;
    const generationMs = performance.now() - genStart;
    if (generated.finishReason === "cancelled" || signal.aborted) return finish("cancelled");

    const testsBefore = testMs;
    let step;
    try {
      step = await episode.step(generated.text);
    } catch (err) {
      if (signal.aborted) return finish("cancelled");
      throw err;
    }
    if (signal.aborted) return finish("cancelled");
    const turnTestMs = testMs - testsBefore;
    if (step.info.isolation) isolation = step.info.isolation;

    emit({ type: "code-extracted", turn, code: step.info.code, invalid: step.info.invalid });
    if (!step.info.invalid) {
      emit({ type: "test-results", turn, results: step.results, passed: step.info.publicPassed, isolation: step.info.isolation, runError: step.info.runError });
    }
    const feedback = step.observation.messages.find((m) => m.role === "user")?.content;
    if (feedback !== undefined) emit({ type: "feedback", turn, text: feedback });

    const record: TurnRecord = {
      turn,
      prompt,
      response: generated.text,
      promptTokenIds: generated.promptTokenIds,
      completionTokenIds: generated.completionTokenIds,
      completionLogprobs: generated.completionLogprobs,
      finishReason: generated.finishReason,
      code: step.info.code,
      invalid: step.info.invalid,
      results: step.results,
      publicPassed: step.info.publicPassed,
      reward: step.reward,
      timings: { generationMs, testMs: turnTestMs, overheadMs: 0 },
      tokens: { prompt: generated.usage.promptTokens, completion: generated.usage.completionTokens },
    };
    if (feedback !== undefined) record.feedback = feedback;
    record.timings.overheadMs = Math.max(0, performance.now() - turnStart - generationMs - turnTestMs);
    turns.push(record);

    if (step.done) {
      final = step.info.final;
      return finish(final?.passed ? "solved" : "failed");
    }
    const shortened = step.info.context !== undefined && (step.info.context.droppedAttempts > 0 || step.info.context.truncatedFeedback);
    promptIds = policy.encodeNextTurn && !shortened ? await policy.encodeNextTurn({ messages: prompt, result: generated }, step.observation.messages) : null;
    prompt = step.observation.prompt;
  }
  // Unreachable: the episode ends at its turn limit.
  return finish("failed");
}
