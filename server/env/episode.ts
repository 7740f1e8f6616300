// One RLEF episode (spec/rlef.md §2, spec/environment.md "Episodes"): the problem, then up to `maxTurns`
// attempts; each attempt's code runs on the public tests, a failure becomes the next user message, all
// public tests passing ends the episode early. The last response's code is then run on public + private
// tests for the final reward. The agent in the editor, `rlef eval` and the trainer (through the
// WebSocket service) all play episodes through this class.
import { fitToContext, type ContextBudget } from "./context-budget";
import type { RandomFeedbackDonor } from "./donor";
import { extractCode } from "./extract";
import { formatFeedback } from "./feedback";
import { buildFirstPrompt, type ChatMessage } from "./prompts";
import { turnReward } from "./reward";
import type { IsolationReport, RunReport, Task, TestResult } from "./types";

/** Runs code on a task's public tests or on all of them (production: runTests of ./run with a sandbox). */
export type RunTestsFn = (task: Task, code: string, which: "public" | "all") => Promise<RunReport>;

export const DEFAULT_MAX_TURNS = 3;

/**
 * What happens inside a step, as it happens (the editor's progress UI, session logs). A step that then
 * fails (e.g. sandbox trouble) emits no "feedback"/"done"; the turn is not committed and may be replayed.
 */
export type EpisodeEvent =
  | { type: "turn-started"; turn: number }
  | { type: "code-extracted"; turn: number; code: string; invalid: boolean }
  /** "private": the final evaluation's run of the private tests only (the public results of the turn are reused). */
  | { type: "test-results"; turn: number; which: "public" | "private" | "all"; report: RunReport }
  | { type: "feedback"; turn: number; text: string; donorTaskId?: string }
  | { type: "done"; turn: number; reward: number; final: FinalEvaluation };

export interface EpisodeOptions {
  runTests: RunTestsFn;
  /** Attempts allowed (default 3, as in training; more is allowed, e.g. for 5- or 10-turn evaluation). */
  maxTurns?: number;
  /** Seeds the random-feedback donor choice. Default 0. */
  seed?: number;
  /** Present: the random-feedback ablation is on and this donor supplies every feedback message. */
  randomFeedback?: RandomFeedbackDonor;
  /** Present: `observation.prompt` is fitted into this budget. */
  contextBudget?: ContextBudget;
  /** Workspace tasks: the current code of the target, shown in the first prompt. */
  targetSource?: string;
  /**
   * "One more round" after a finished run: the conversation so far (problem, attempts, and the feedback on
   * the last one, ending with a user message). reset() starts from it instead of the first prompt.
   */
  continueConversation?: ChatMessage[];
  /** Called synchronously for each event; an exception thrown here fails the step. */
  onEvent?: (event: EpisodeEvent) => void;
}

export interface FinalEvaluation {
  /** The last response's code ("" when it had none). */
  code: string;
  /** Passed every public and private test. */
  passed: boolean;
  results: TestResult[];
  isolation?: IsolationReport;
  error?: string;
}

export interface StepInfo {
  /** The extracted code ("" for an invalid response). */
  code: string;
  invalid: boolean;
  invalidReason?: "no-code-block" | "no-block-for-language";
  /** All public tests passed this turn. */
  publicPassed: boolean;
  /** Protections active for this turn's public run (absent when nothing ran). */
  isolation?: IsolationReport;
  /** The run failed before any test (e.g. a TypeScript compile error). */
  runError?: string;
  /** Random-feedback ablation: the task whose feedback was shown instead of the true one. */
  donorTaskId?: string;
  stopReason?: "public-tests-passed" | "turn-limit";
  /** Set on the last step: the final code's run on public + private tests. */
  final?: FinalEvaluation;
  /** Set when a context budget is in force. */
  context?: { droppedAttempts: number; truncatedFeedback: boolean; tokens: number; fits: boolean };
}

export interface StepResult {
  observation: {
    /** Messages to append after the response (the feedback message; none when the episode is over). */
    messages: ChatMessage[];
    /** The whole conversation for the next turn, fitted into the context budget when one is given. */
    prompt: ChatMessage[];
  };
  /** Per-test results of this turn's public run (empty for an invalid response). */
  results: TestResult[];
  /** r_t of this turn (spec/rlef.md §3). */
  reward: number;
  done: boolean;
  /** 1-based number of the turn just played. */
  turn: number;
  info: StepInfo;
}

/** A misuse of an episode (stepping a finished one, two steps at once); services report these as client errors. */
export class EpisodeStateError extends Error {}

export class Episode {
  readonly maxTurns: number;
  private history: ChatMessage[] = [];
  private turn = 0;
  private finished = false;
  private stepping = false;
  private started = false;

  constructor(
    readonly task: Task,
    private readonly options: EpisodeOptions,
  ) {
    const maxTurns = options.maxTurns ?? DEFAULT_MAX_TURNS;
    if (!Number.isInteger(maxTurns) || maxTurns < 1) throw new RangeError(`maxTurns must be a positive integer, got ${maxTurns}`);
    this.maxTurns = maxTurns;
    // A task without public tests would stop vacuously after turn one (spec: that never happens).
    if (task.kind !== "workspace" && task.publicTests.length === 0) {
      throw new RangeError(`task ${task.id} has no public tests; it cannot be played as a multi-turn episode`);
    }
    if (options.randomFeedback && task.kind === "workspace") {
      throw new RangeError("random feedback is not offered for workspace tasks");
    }
    if (options.randomFeedback && !options.randomFeedback.hasDonorsFor(task)) {
      throw new RangeError(`random feedback: set "${task.set}" has no other task with public tests to take feedback from`);
    }
  }

  get done(): boolean {
    return this.finished;
  }

  get turnsPlayed(): number {
    return this.turn;
  }

  /** Starts (or restarts) the episode and returns the first observation: the problem as chat messages. */
  reset(): ChatMessage[] {
    if (this.stepping) throw new EpisodeStateError("cannot reset while a step is running");
    const resumed = this.options.continueConversation;
    if (resumed && (resumed.length === 0 || resumed[resumed.length - 1].role !== "user")) {
      throw new RangeError("continueConversation must end with a user message (the feedback to answer)");
    }
    this.history = resumed ? resumed.map((m) => ({ ...m })) : buildFirstPrompt(this.task, { targetSource: this.options.targetSource });
    this.turn = 0;
    this.finished = false;
    this.started = true;
    return this.history.map((m) => ({ ...m }));
  }

  async step(responseText: string): Promise<StepResult> {
    if (!this.started) throw new EpisodeStateError("call reset() before step()");
    if (this.finished) throw new EpisodeStateError("the episode is finished");
    if (this.stepping) throw new EpisodeStateError("a step of this episode is already running");
    this.stepping = true;
    try {
      // play() commits its changes only at the end, so a failed run (e.g. sandbox trouble) leaves the
      // episode as it was and the caller can retry the same turn.
      return await this.play(responseText);
    } finally {
      this.stepping = false;
    }
  }

  private async play(responseText: string): Promise<StepResult> {
    const turn = this.turn + 1;
    const emit = this.options.onEvent ?? (() => {});
    emit({ type: "turn-started", turn });
    const extraction = extractCode(responseText, this.task.language);
    const invalid = !extraction.valid;
    const code = extraction.valid ? extraction.code : "";
    const info: StepInfo = { code, invalid, publicPassed: false };
    if (!extraction.valid) info.invalidReason = extraction.reason;
    emit({ type: "code-extracted", turn, code, invalid });

    let report: RunReport | undefined;
    if (!invalid) {
      report = await this.options.runTests(this.task, code, "public");
      emit({ type: "test-results", turn, which: "public", report });
      info.isolation = report.isolation;
      if (report.error !== undefined) info.runError = report.error;
      info.publicPassed = report.passed && report.error === undefined;
    }
    const done = info.publicPassed || turn >= this.maxTurns;
    const appended: ChatMessage[] = [];
    let reward: number;
    if (done) {
      info.stopReason = info.publicPassed ? "public-tests-passed" : "turn-limit";
      info.final = await this.finalEvaluation(code, report, turn, emit);
      reward = turnReward({ invalid, final: true, passedAllTests: info.final.passed });
      emit({ type: "done", turn, reward, final: info.final });
    } else {
      const feedback = await this.feedbackText(turn, report);
      if (feedback.donorTaskId !== undefined) info.donorTaskId = feedback.donorTaskId;
      appended.push({ role: "user", content: feedback.text });
      reward = turnReward({ invalid, final: false });
      emit({ type: "feedback", turn, text: feedback.text, ...(feedback.donorTaskId !== undefined ? { donorTaskId: feedback.donorTaskId } : {}) });
    }

    // Commit only after everything that can fail has succeeded.
    this.history.push({ role: "assistant", content: responseText }, ...appended);
    this.turn = turn;
    this.finished = done;

    let prompt = this.history.map((m) => ({ ...m }));
    if (this.options.contextBudget) {
      const fitted = fitToContext(prompt, this.options.contextBudget);
      prompt = fitted.messages;
      info.context = {
        droppedAttempts: fitted.droppedAttempts,
        truncatedFeedback: fitted.truncatedFeedback,
        tokens: fitted.tokens,
        fits: fitted.fits,
      };
    }
    return { observation: { messages: appended, prompt }, results: report?.results ?? [], reward, done, turn, info };
  }

  private async feedbackText(turn: number, report: RunReport | undefined): Promise<{ text: string; donorTaskId?: string }> {
    // An invalid response is told so even under the ablation: the format rule is not execution feedback.
    if (!report) return { text: formatFeedback(this.task, { kind: "invalid-response" }) };
    if (this.options.randomFeedback) {
      const donor = await this.options.randomFeedback.feedbackFor(this.task, this.options.seed ?? 0, turn);
      return { text: donor.feedback, donorTaskId: donor.donorTaskId };
    }
    return { text: formatFeedback(this.task, { kind: "run", report }) };
  }

  private async finalEvaluation(
    code: string,
    publicReport: RunReport | undefined,
    turn: number,
    emit: (e: EpisodeEvent) => void,
  ): Promise<FinalEvaluation> {
    // spec: a last response without code leaves an empty final answer, which fails without running.
    if (code === "") return { code, passed: false, results: [] };
    const task = this.task;
    // The final code already ran on the public tests this turn: reuse those results and run only the
    // private tests (saves a process per public test on every episode). Multi-file tasks and workspace
    // tests define "all" their own way, so they are run whole.
    const reusable =
      publicReport !== undefined &&
      publicReport.error === undefined &&
      (task.kind === "stdio" || (task.kind === "function" && task.testFiles === undefined));
    if (reusable) {
      if (task.privateTests.length === 0) return { code, passed: publicReport.passed, results: publicReport.results, isolation: publicReport.isolation };
      const privateReport = await this.options.runTests({ ...task, publicTests: [] } as Task, code, "all");
      emit({ type: "test-results", turn, which: "private", report: privateReport });
      const final: FinalEvaluation = {
        code,
        passed: publicReport.passed && privateReport.passed && privateReport.error === undefined,
        results: [...publicReport.results, ...privateReport.results],
        isolation: privateReport.isolation,
      };
      if (privateReport.error !== undefined) final.error = privateReport.error;
      return final;
    }
    const report = await this.options.runTests(task, code, "all");
    emit({ type: "test-results", turn, which: "all", report });
    const final: FinalEvaluation = { code, passed: report.passed && report.error === undefined, results: report.results, isolation: report.isolation };
    if (report.error !== undefined) final.error = report.error;
    return final;
  }
}
