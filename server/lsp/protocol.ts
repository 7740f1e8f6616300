// The LSP surface of the agent, shared by the server and any client (the VS Code extension, Neovim, …).
// Agent runs are `workspace/executeCommand` commands; their events stream as `rlef/agentEvent`
// notifications; progress uses LSP work-done progress, cancellable from the client.
import type { WorkspaceEdit } from "vscode-languageserver";
import type { AgentEvent } from "../agent/agent";

export const LSP_PROTOCOL_VERSION = 1;

export const ServerCommands = {
  /** args: [{ uri: string }] → AgentRunReply. Solves the stdin/stdout problem in a Markdown/text/JSON file. */
  solveProblem: "rlef.server.solveProblem",
  /** args: [{ uri: string, line?: number (0-based) }] → AgentRunReply. Fixes the function at `line` until the tests pass. */
  fixUntilTestsPass: "rlef.server.fixUntilTestsPass",
  /** args: [{ runId?: string }] → { stopped: number }. Stops one run, or all. */
  stop: "rlef.server.stop",
  /** args: [] → ServerStatus. */
  status: "rlef.server.status",
  /** args: [{ repo, revision?, variant? }] → InstalledModelInfo. Downloads an ONNX model from the Hub, with progress. */
  downloadModel: "rlef.server.downloadModel",
  /** args: [] → InstalledModelInfo[]. Models in the model manager's cache. */
  listModels: "rlef.server.listModels",
  /** args: [] → SessionLogStatus. Whether runs are logged, where, and what the log holds. */
  sessionLogStatus: "rlef.server.sessionLogStatus",
  /** args: [] → { deleted: number } (log files deleted). Deletes the session log's files. */
  clearSessionLog: "rlef.server.clearSessionLog",
} as const;

/** Options every run command accepts besides its target. */
export interface RunCommandOptions {
  /** The user consented to unisolated execution for this workspace (only asked where no sandbox exists). */
  allowUnisolated?: boolean;
  /** Attempt budget for this run (default: the rlef.agent.attempts setting). */
  attempts?: number;
  /**
   * One more round: continue the finished run with this id (its last feedback, plus `hint`) instead of
   * starting afresh; `attempts` then defaults to 1.
   */
  continueRunId?: string;
  /** A hint typed by the user for one more round. */
  hint?: string;
  /** Client-chosen id for correlating `rlef/agentEvent` notifications; the server makes one when absent. */
  runId?: string;
}

export interface SolveProblemArgs extends RunCommandOptions {
  uri: string;
}

export interface FixUntilTestsPassArgs extends RunCommandOptions {
  uri: string;
  /** 0-based line of the cursor; absent: the whole file. */
  line?: number;
  /** The folder's own test command (multi-root workspaces), as a command line or argv. */
  testCommand?: string | string[];
}

export interface AgentRunReply {
  runId: string;
  outcome: "solved" | "failed" | "cancelled";
  summary: string;
  /** The file the proposal is for (a `file:` URI). */
  uri: string;
  /** Current text on disk, or null when the file does not exist yet. */
  originalText: string | null;
  /** Proposed whole-file text, or null when there is nothing to review. */
  newText: string | null;
  /**
   * The same proposal as an LSP workspace edit (replace the whole file, or create it), for clients to show
   * and apply with their own review UI; null when there is nothing to apply. The server never applies it.
   */
  edit: WorkspaceEdit | null;
  attempts: number;
  isolation?: string;
}

export interface AgentEventNotification {
  runId: string;
  event: AgentEvent;
}

export const AgentEventMethod = "rlef/agentEvent";

/** Client → server notification carrying the endpoint's API key from the editor's secret storage (never logged). */
export const SetApiKeyMethod = "rlef/setApiKey";
export interface SetApiKeyParams {
  apiKey: string | null;
}

/**
 * Client → server notification: what the user did with a run's proposal in the diff review. Recorded in the
 * session log when logging is on (rlef.sessionLog.enabled); ignored otherwise.
 */
export const ReviewDecisionMethod = "rlef/reviewDecision";
export interface ReviewDecisionParams {
  runId: string;
  decision: "accepted" | "rejected";
}

export interface SessionLogStatus {
  enabled: boolean;
  /** The log folder (rlef.sessionLog.folder, or the default ~/.local/state/rlef/sessions). */
  folder: string;
  /** Session records in the log (all files). */
  sessions: number;
  /** Of those, how many the trainer may use. */
  trainable: number;
  reviews: { accepted: number; rejected: number };
  bytes: number;
  /** Lines that could not be read ("file:line: why"), the first 20. */
  problems: string[];
}

export interface InstalledModelInfo {
  name: string;
  path: string;
  sizeBytes: number;
  current: boolean;
}

/** initializationOptions the server reads. */
export interface InitializationOptions {
  settings?: unknown;
  /** Where downloaded models live (the editor's global storage); default $XDG_CACHE_HOME/rlef/models. */
  modelCacheDir?: string;
}

export interface ServerStatus {
  version: number;
  policy: string | null;
  isolation: string | null;
  runs: string[];
}
