// What an editor (through the LSP server) or the CLI asks of the agent: solve a problem file, fix a function
// until the workspace's tests pass. Holds the sandbox and the policy, both created on first use, and turns a
// finished episode into a proposal (the whole new text of one file) that the user reviews before anything
// is written. Nothing here writes to the user's files.
import { readFile } from "node:fs/promises";
import { basename, dirname, extname, join, relative } from "node:path";
import { runTests } from "../env/run";
import { createSandbox, type Sandbox } from "../env/sandbox";
import type { Task, WorkspaceTask } from "../env/types";
import { userProblemTask } from "../env/tasks/task-file";
import { buildWorkspaceTask } from "../env/workspace/task";
import { applyCandidate } from "../env/workspace/candidate";
import type { ChatMessage, Policy } from "../policy/types";
import { formatFeedback } from "../env/feedback";
import { runAgentEpisode, type AgentEvent, type Trajectory } from "./agent";
import { functionAt, languageOfFile, type FunctionRegion } from "./code-regions";
import type { ServerSettings } from "../lsp/settings";
import type { PolicyLoader } from "./policy-loader";

export interface Proposal {
  /** Absolute path of the file the change is for. */
  file: string;
  /** Its current text on disk; null when the file does not exist yet (Solve creates the solution file). */
  originalText: string | null;
  /** The proposed whole-file text; null when the agent produced no valid code. */
  newText: string | null;
}

export interface AgentRunResult {
  outcome: Trajectory["outcome"];
  /** "no valid code": the last response had no code block, so there is nothing to review. */
  summary: string;
  proposal: Proposal;
  trajectory: Trajectory;
  /** The task the run played (what the session log records). */
  task: Task;
  /** Fix Until Tests Pass: the function that was rewritten (absent: the whole file). */
  region?: FunctionRegion;
}

export interface RunControls {
  signal: AbortSignal;
  onEvent: (event: AgentEvent) => void;
  /** The user consented (once per workspace) to run model code without isolation. */
  allowUnisolated: boolean;
  /** Attempt budget of this run (default: the rlef.agent.attempts setting; 1 for one more round). */
  attempts?: number;
  /** One more round only: a hint typed by the user, sent with the last attempt's feedback. */
  hint?: string;
  /** The test command of this workspace folder (multi-root: per-folder setting); overrides the session's. */
  testCommand?: string[];
}

export type { PolicyLoader };

/** What "one more round" needs of a finished run: its task, its conversation, and how code becomes a proposal. */
interface FinishedRun {
  task: Task;
  trajectory: Trajectory;
  propose: (code: string) => Proposal;
  region?: FunctionRegion;
}

/** Fix Until Tests Pass rewrites a whole file only when it is at most this long. */
export const WHOLE_FILE_MAX_LINES = 300;

/** Finished runs kept for "one more round" (oldest forgotten first). */
const KEPT_RUNS = 20;

export class AgentSession {
  private sandboxPromise: Promise<Sandbox> | null = null;
  private sandboxConsent = false;
  private policyPromise: Promise<Policy> | null = null;
  /** The model files the loaded policy came from (PolicyLoader.fingerprint), to notice a new model in place. */
  private policyStamp: string | null = null;
  private readonly finished = new Map<string, FinishedRun>();

  constructor(
    private settings: ServerSettings,
    private readonly loadPolicy: PolicyLoader,
    /** Called when a changed model folder makes the session load the policy again. */
    private readonly onModelChanged?: () => void,
  ) {}

  updateSettings(settings: ServerSettings): void {
    const policyChanged = JSON.stringify(settings.policy) !== JSON.stringify(this.settings.policy) || JSON.stringify(settings.endpoint) !== JSON.stringify(this.settings.endpoint);
    const sandboxChanged = settings.sandbox.mode !== this.settings.sandbox.mode;
    this.settings = settings;
    if (policyChanged) void this.dropPolicy();
    if (sandboxChanged) void this.dropSandbox();
  }

  private async dropPolicy(): Promise<void> {
    const old = this.policyPromise;
    this.policyPromise = null;
    if (old) await (await old.catch(() => null))?.unload();
  }

  private async dropSandbox(): Promise<void> {
    const old = this.sandboxPromise;
    this.sandboxPromise = null;
    if (old) await (await old.catch(() => null))?.dispose();
  }

  /**
   * The policy, loaded on first use. When the model folder's files changed since it was loaded (a newly trained
   * model exported into place), the old one is released and the new one loaded: runs already going keep theirs.
   */
  async policy(): Promise<Policy> {
    const stamp = this.loadPolicy.fingerprint?.(this.settings) ?? null;
    if (this.policyPromise && stamp !== this.policyStamp) {
      this.onModelChanged?.();
      void this.dropPolicy();
    }
    if (!this.policyPromise) {
      this.policyStamp = stamp;
      this.policyPromise = this.loadPolicy(this.settings);
      this.policyPromise.catch(() => (this.policyPromise = null));
    }
    return this.policyPromise;
  }

  async sandbox(allowUnisolated: boolean): Promise<Sandbox> {
    if (this.sandboxPromise && allowUnisolated !== this.sandboxConsent) await this.dropSandbox();
    if (!this.sandboxPromise) {
      this.sandboxConsent = allowUnisolated;
      this.sandboxPromise = createSandbox({ mode: this.settings.sandbox.mode, allowUnisolated });
      this.sandboxPromise.catch(() => (this.sandboxPromise = null));
    }
    return this.sandboxPromise;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.dropPolicy(), this.dropSandbox()]);
  }

  /** The sibling file a problem file's solution goes to: `<name><ext>` (default `.py`). */
  solutionPathFor(problemFile: string): string {
    const ext = this.settings.solve.solutionExtension;
    return join(dirname(problemFile), basename(problemFile, extname(problemFile)) + ext);
  }

  /** Solve Problem in This File: the problem's examples are the tests; the solution goes to a sibling file. */
  async solveProblemFile(file: string, text: string, controls: RunControls, runId?: string): Promise<AgentRunResult> {
    const task = userProblemTask(text, file, basename(file));
    task.checker = { ...task.checker, mode: this.settings.judge.mode };
    task.limits = { ...task.limits, timeMs: this.settings.tests.timeoutSeconds * 1000 };
    const solutionFile = this.solutionPathFor(file);
    const originalText = await readFile(solutionFile, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return null;
      throw err;
    });
    const propose = (code: string): Proposal => ({ file: solutionFile, originalText, newText: code ? ensureNewline(code) : null });
    const trajectory = await this.play(task, controls, undefined);
    this.remember(runId, { task, trajectory, propose });
    return result(task, trajectory, propose(trajectory.final?.code || lastCode(trajectory)));
  }

  /**
   * Fix Until Tests Pass: the function around `line` (1-based), or the whole file when `line` is outside any
   * function, is rewritten until the workspace's test command passes. `root` is the workspace folder.
   */
  async fixUntilTestsPass(root: string, file: string, line: number | null, controls: RunControls, runId?: string): Promise<AgentRunResult> {
    const language = languageOfFile(file);
    if (!language) throw new Error(`${file}: only Python, JavaScript and TypeScript files can be fixed`);
    const rel = relative(root, file);
    if (rel.startsWith("..")) throw new Error(`${file} is not inside the workspace folder ${root}`);
    const originalText = await readFile(file, "utf8");
    const region = line === null ? null : functionAt(originalText, language, line);
    // Outside any function the whole file is the target, but only a small one: the model rewrites it all.
    const lineCount = originalText.split("\n").length;
    if (!region && lineCount > WHOLE_FILE_MAX_LINES) {
      throw new Error(`${file} has ${lineCount} lines: put the cursor inside the function to fix (a whole file is rewritten only up to ${WHOLE_FILE_MAX_LINES} lines)`);
    }
    const target: WorkspaceTask["target"] = region ? { file: rel, startLine: region.startLine, endLine: region.endLine, symbol: region.name } : { file: rel };
    const configured = controls.testCommand?.length ? controls.testCommand : this.settings.tests.command;
    const task = await buildWorkspaceTask({
      id: rel,
      root,
      target,
      ...(configured.length ? { runner: runnerOfCommand(configured), command: configured } : {}),
      limits: { timeMs: this.settings.tests.timeoutSeconds * 1000 * 6, memoryBytes: 1024 ** 3 },
    });
    const targetSource = region ? originalText.split(/\r?\n/).slice(region.startLine - 1, region.endLine).join("\n") : originalText;
    const propose = (code: string): Proposal => ({ file, originalText, newText: code ? applyCandidate(originalText, code, target) : null });
    const trajectory = await this.play(task, controls, targetSource);
    this.remember(runId, { task, trajectory, propose, region: region ?? undefined });
    const outcome = result(task, trajectory, propose(trajectory.final?.code || lastCode(trajectory)));
    if (region) outcome.region = region;
    return outcome;
  }

  /**
   * One more round after a finished run: the model sees its last attempt's feedback (and the user's hint, if
   * any) and tries `controls.attempts` more times (default 1), continuing the same conversation.
   */
  async oneMoreRound(previousRunId: string, controls: RunControls, runId?: string): Promise<AgentRunResult> {
    const previous = this.finished.get(previousRunId);
    if (!previous) throw new Error(`run ${previousRunId} is not available any more for one more round; start a new run`);
    const last = previous.trajectory.turns[previous.trajectory.turns.length - 1];
    if (!last) throw new Error(`run ${previousRunId} has no attempt to continue from`);
    let feedback: string;
    if (last.invalid) feedback = formatFeedback(previous.task, { kind: "invalid-response" });
    else if (!last.publicPassed) {
      const report = { taskId: previous.task.id, results: last.results, passed: false, isolation: previous.trajectory.isolation ?? { mode: "none" as const, enforced: [], missing: [] } };
      feedback = formatFeedback(previous.task, { kind: "run", report });
    } else if (controls.hint) feedback = "Your code passes the tests.";
    else throw new Error("the tests already pass; give a hint to ask for one more round");
    const content = controls.hint ? `${feedback}\n\nHint from the user: ${controls.hint}` : feedback;
    const conversation = [...last.prompt, { role: "assistant" as const, content: last.response }, { role: "user" as const, content }];
    const trajectory = await this.play(previous.task, { ...controls, attempts: controls.attempts ?? 1 }, undefined, conversation);
    this.remember(runId, { ...previous, trajectory });
    const outcome = result(previous.task, trajectory, previous.propose(trajectory.final?.code || lastCode(trajectory)));
    if (previous.region) outcome.region = previous.region;
    return outcome;
  }

  private remember(runId: string | undefined, run: FinishedRun): void {
    if (!runId || run.trajectory.outcome === "cancelled") return;
    this.finished.set(runId, run);
    while (this.finished.size > KEPT_RUNS) this.finished.delete(this.finished.keys().next().value as string);
  }

  private async play(task: Task, controls: RunControls, targetSource: string | undefined, continueConversation?: ChatMessage[]): Promise<Trajectory> {
    const [policy, sandbox] = await Promise.all([this.policy(), this.sandbox(controls.allowUnisolated)]);
    const s = this.settings.agent;
    return runAgentEpisode(task, policy, {
      runTests: (t, code, which, signal) => runTests(t, code, { sandbox, which, signal }),
      maxTurns: controls.attempts ?? s.attempts,
      sampling: { temperature: s.temperature, topP: s.topP, maxTokens: s.maxTokens },
      targetSource,
      continueConversation,
      signal: controls.signal,
      onEvent: controls.onEvent,
    });
  }
}

function runnerOfCommand(command: string[]): WorkspaceTask["runner"] {
  const line = command.join(" ");
  if (/\bpytest\b/.test(line)) return "pytest";
  if (/\bnode\b.*--test\b/.test(line)) return "node-test";
  if (/\bvitest\b/.test(line)) return "vitest";
  if (/\bjest\b/.test(line)) return "jest";
  return "command";
}

function lastCode(trajectory: Trajectory): string {
  for (let i = trajectory.turns.length - 1; i >= 0; i--) if (trajectory.turns[i].code) return trajectory.turns[i].code;
  return "";
}

function ensureNewline(text: string): string {
  return text.endsWith("\n") ? text : text + "\n";
}

function result(task: Task, trajectory: Trajectory, proposal: Proposal): AgentRunResult {
  const turns = trajectory.turns.length;
  const summary =
    trajectory.outcome === "cancelled"
      ? `stopped after ${turns} attempt(s)`
      : proposal.newText === null
        ? `no valid code after ${turns} attempt(s)`
        : trajectory.outcome === "solved"
          ? `all tests pass after ${turns} attempt(s)`
          : `tests still failing after ${turns} attempt(s)`;
  return { outcome: trajectory.outcome, summary, proposal, trajectory, task };
}
