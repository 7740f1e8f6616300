// The "RLEF" commands: each checks trust and consent, asks the language server to run the agent, streams
// the run into the transcript and the status bar, and ends in a diff review (Accept / Reject / Retry).
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient } from "vscode-languageclient/node";
import {
  AgentEventMethod,
  ReviewDecisionMethod,
  ServerCommands,
  SetApiKeyMethod,
  type AgentEventNotification,
  type AgentRunReply,
  type InstalledModelInfo,
  type ReviewDecisionParams,
} from "../server/lsp/protocol";
import { acceptProposal, closeDiff, diffTabs, isDiffOf, proposalRunId, showDiff, type PendingProposal, type ProposalDocuments } from "./review";
import type { StatusBar } from "./status";
import type { TranscriptPanel } from "./transcript";

interface Deps {
  client: LanguageClient;
  log: vscode.LogOutputChannel;
  proposals: ProposalDocuments;
  status: StatusBar;
  transcript: TranscriptPanel;
}

type RunKind = "solve" | "fix";
interface RunRequest {
  kind: RunKind;
  uri: vscode.Uri;
  line?: number;
  attempts?: number;
  /** One more round: the run to continue, and the user's optional hint. */
  continueRunId?: string;
  hint?: string;
}

export const API_KEY_SECRET = "rlef.apiKey";
const CONSENT_KEY = "rlef.unisolatedConsent";
const ENDPOINT_NOTICE_KEY = "rlef.endpointNoticeFor";
const NO_SANDBOX = /needs explicit consent/;

export function registerCommands(context: vscode.ExtensionContext, deps: Deps): void {
  const { client, log, status, transcript } = deps;
  /** The proposal under review: the newest run's, until the user accepts or rejects it or closes its diff. */
  let pending: PendingProposal | null = null;
  let lastRequest: RunRequest | null = null;
  let lastRunId: string | null = null;
  let running = 0;

  client.onNotification(AgentEventMethod, (n: AgentEventNotification) => {
    transcript.event(n.runId, n.event);
    if (n.event.type === "turn-started") status.running(`attempt ${n.event.turn} of ${n.event.maxTurns}`);
    if (n.event.type === "test-results") {
      const failing = n.event.results.filter((r) => r.outcome !== "passed").length;
      status.running(failing ? `${failing} of ${n.event.results.length} tests failing` : "all tests pass");
    }
  });

  function restricted(): boolean {
    if (vscode.workspace.isTrusted) return false;
    void vscode.window
      .showWarningMessage(
        "RLEF is disabled in Restricted Mode: it runs model-written code and your workspace's test command. Trust this workspace to use it.",
        "Manage Workspace Trust",
      )
      .then((choice) => {
        if (choice) void vscode.commands.executeCommand("workbench.trust.manage");
      });
    log.warn("refused to run: the workspace is not trusted (Restricted Mode)");
    return true;
  }

  async function endpointNotice(): Promise<boolean> {
    const cfg = vscode.workspace.getConfiguration("rlef");
    if (cfg.get<string>("policy.backend") !== "endpoint") return true;
    const url = cfg.get<string>("endpoint.url") ?? "";
    if (context.globalState.get<string>(ENDPOINT_NOTICE_KEY) === url) return true;
    const choice = await vscode.window.showWarningMessage(
      `RLEF will send the problem, your code and test output to the model endpoint at ${url}.`,
      { modal: true },
      "Continue",
    );
    if (choice !== "Continue") return false;
    await context.globalState.update(ENDPOINT_NOTICE_KEY, url);
    return true;
  }

  async function run(request: RunRequest): Promise<void> {
    if (restricted() || !(await endpointNotice())) return;
    lastRequest = request;
    const runId = randomUUID();
    const name = request.uri.path.split("/").pop() ?? "";
    transcript.start(runId, request.kind === "solve" ? `Solving ${name}` : `Fixing ${name}${request.line !== undefined ? ` (line ${request.line + 1})` : ""}`);
    transcript.show();
    running++;
    status.running("starting");
    try {
      const reply = await execute(request, runId, context.workspaceState.get<boolean>(CONSENT_KEY) === true);
      if (!reply) {
        transcript.end(runId, "not run: running model code unisolated was declined");
        return;
      }
      lastRunId = reply.runId;
      transcript.end(runId, reply.summary);
      log.info(`run ${runId}: ${reply.summary}${reply.isolation ? ` (sandbox: ${reply.isolation})` : ""}`);
      await review(reply);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.error(`run ${runId} failed: ${message}`);
      transcript.end(runId, `error: ${message}`);
      void vscode.window.showErrorMessage(`RLEF: ${message}`);
    } finally {
      running--;
      if (running === 0) status.idle();
    }
  }

  async function execute(request: RunRequest, runId: string, allowUnisolated: boolean): Promise<AgentRunReply | null> {
    const command = request.kind === "solve" ? ServerCommands.solveProblem : ServerCommands.fixUntilTestsPass;
    // Multi-root workspaces: the test command is a per-folder (resource-scoped) setting.
    const testCommand = vscode.workspace.getConfiguration("rlef", request.uri).get<string>("tests.command") || undefined;
    const args = { uri: request.uri.toString(), line: request.line, runId, allowUnisolated, attempts: request.attempts, continueRunId: request.continueRunId, hint: request.hint, testCommand };
    try {
      return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] })) as AgentRunReply;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (allowUnisolated || !NO_SANDBOX.test(message)) throw err;
      const choice = await vscode.window.showWarningMessage(
        "No sandbox (bubblewrap with namespaces) is available on this machine, so model-written code would run unisolated, with your user's rights. Allow it for this workspace?",
        { modal: true },
        "Run Unisolated",
      );
      if (choice !== "Run Unisolated") return null;
      await context.workspaceState.update(CONSENT_KEY, true);
      return execute(request, runId, true);
    }
  }

  async function review(reply: AgentRunReply): Promise<void> {
    if (reply.outcome === "cancelled") {
      void vscode.window.showInformationMessage(`RLEF: ${reply.summary}.`);
      return;
    }
    if (reply.newText === null) {
      void vscode.window.showWarningMessage(`RLEF: ${reply.summary}; there is nothing to review.`, "Retry").then((c) => c && retry());
      return;
    }
    const proposal: PendingProposal = { runId: reply.runId, target: vscode.Uri.parse(reply.uri), originalText: reply.originalText, newText: reply.newText, summary: reply.summary };
    // The new proposal replaces the one under review, which ends without a decision (none is recorded for it).
    if (pending) {
      const replaced = pending;
      pending = null;
      log.info(`the proposal of run ${replaced.runId} was replaced by a newer run's, undecided`);
      await closeDiff(replaced.runId);
    }
    pending = proposal;
    await showDiff(deps.proposals, proposal);
    const choice = await vscode.window.showInformationMessage(`RLEF: ${reply.summary}. Apply the proposed change?`, "Accept", "Reject", "Retry", "One More Round");
    if (choice === "Accept") await accept(proposal.runId);
    else if (choice === "Reject") await reject(proposal.runId);
    else if (choice === "Retry") await retry();
    else if (choice === "One More Round") await oneMoreRound();
  }

  // Closing a proposal's diff ends its review without a decision.
  context.subscriptions.push(
    vscode.window.tabGroups.onDidChangeTabs((e) => {
      const p = pending;
      if (!p || !e.closed.some((tab) => isDiffOf(tab, p.runId)) || diffTabs(p.runId).length > 0) return;
      pending = null;
      log.info(`the proposal of run ${p.runId} was closed undecided`);
    }),
  );

  /**
   * The proposal an Accept or Reject means: the run a notification or a diff editor names (null: the one under
   * review), when it is still under review; otherwise says why there is nothing to do.
   */
  function underReview(runId: string | null, verb: "accept" | "reject"): PendingProposal | null {
    if (pending && (runId === null || runId === pending.runId)) return pending;
    const why = runId === null ? "there is no proposal to" : "that proposal is no longer under review (a newer run replaced it, or its diff was closed), so there is nothing to";
    void vscode.window.showInformationMessage(`RLEF: ${why} ${verb}.`);
    return null;
  }

  /** Tells the server what the user did with a run's proposal; it records the decision when session logging is on. */
  function sendDecision(p: PendingProposal, decision: ReviewDecisionParams["decision"]): void {
    const params: ReviewDecisionParams = { runId: p.runId, decision };
    client.sendNotification(ReviewDecisionMethod, params).catch((err: unknown) => log.warn(`the review decision of run ${p.runId} did not reach the server: ${err instanceof Error ? err.message : String(err)}`));
  }

  async function accept(runId: string | null): Promise<void> {
    const p = underReview(runId, "accept");
    if (!p) return;
    pending = null;
    const result = await acceptProposal(p);
    if (result.applied) {
      sendDecision(p, "accepted");
      log.info(`accepted the proposal for ${p.target.fsPath}`);
      await closeDiff(p.runId);
      await vscode.window.showTextDocument(p.target);
    } else {
      // Still under review (unless a newer run replaced it meanwhile): the user may restore the file and accept again, or reject.
      if (pending === null && diffTabs(p.runId).length > 0) pending = p;
      void vscode.window.showErrorMessage(`RLEF: ${result.reason}`);
    }
  }

  async function reject(runId: string | null): Promise<void> {
    // Reject on a diff no longer under review just closes it.
    if (runId !== null && runId !== pending?.runId) return closeDiff(runId);
    const p = underReview(runId, "reject");
    if (!p) return;
    pending = null;
    sendDecision(p, "rejected");
    log.info(`rejected the proposal for ${p.target.fsPath}`);
    await closeDiff(p.runId);
  }

  async function retry(): Promise<void> {
    if (lastRequest) await run({ ...lastRequest, continueRunId: undefined, hint: undefined });
  }

  async function oneMoreRound(): Promise<void> {
    if (!lastRequest || !lastRunId) return;
    const hint = await vscode.window.showInputBox({ prompt: "Optional hint for the model (what to try, what is wrong)", placeHolder: "Leave empty for no hint" });
    if (hint === undefined) return;
    await run({ ...lastRequest, continueRunId: lastRunId, attempts: 1, hint: hint || undefined });
  }

  function activeFile(uri?: vscode.Uri | string): vscode.Uri | null {
    if (typeof uri === "string") return vscode.Uri.parse(uri);
    if (uri instanceof vscode.Uri) return uri;
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.uri.scheme !== "file") {
      void vscode.window.showErrorMessage("RLEF: open a file first.");
      return null;
    }
    return editor.document.uri;
  }

  const reg = (id: string, fn: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));

  reg("rlef.solveProblem", async (uri?: unknown) => {
    const file = activeFile(uri as vscode.Uri | undefined);
    if (file) await run({ kind: "solve", uri: file });
  });
  reg("rlef.fixUntilTestsPass", async (uri?: unknown, line?: unknown) => {
    const file = activeFile(uri as vscode.Uri | string | undefined);
    if (!file) return;
    const editor = vscode.window.activeTextEditor;
    const cursor = typeof line === "number" ? line : editor?.document.uri.toString() === file.toString() ? editor.selection.active.line : undefined;
    if (editor?.document.uri.toString() === file.toString() && editor.document.isDirty) {
      const choice = await vscode.window.showWarningMessage("RLEF runs your tests on the saved file. Save it first?", "Save and Continue");
      if (choice !== "Save and Continue") return;
      await editor.document.save();
    }
    await run({ kind: "fix", uri: file, line: cursor });
  });
  reg("rlef.stop", async () => {
    const reply = (await client.sendRequest(ExecuteCommandRequest.type, { command: ServerCommands.stop, arguments: [{}] })) as { stopped: number };
    void vscode.window.showInformationMessage(reply.stopped ? "RLEF: stopping the run." : "RLEF: nothing is running.");
  });
  // From the diff's title bar the command gets the proposal's URI; from the palette, nothing: then the active
  // diff's proposal, else the one under review.
  const runIdOf = (uri: unknown) => {
    if (uri instanceof vscode.Uri) return proposalRunId(uri);
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    return input instanceof vscode.TabInputTextDiff ? proposalRunId(input.modified) : null;
  };
  reg("rlef.acceptProposal", (uri?: unknown) => accept(runIdOf(uri)));
  reg("rlef.rejectProposal", (uri?: unknown) => reject(runIdOf(uri)));
  reg("rlef.retry", retry);
  reg("rlef.oneMoreRound", oneMoreRound);
  reg("rlef.showTranscript", () => transcript.show(false));
  reg("rlef.showOutput", () => log.show());
  reg("rlef.selectModel", async () => {
    const cfg = vscode.workspace.getConfiguration("rlef");
    const downloaded = (await client.sendRequest(ExecuteCommandRequest.type, { command: ServerCommands.listModels, arguments: [] })) as InstalledModelInfo[];
    const pick = await vscode.window.showQuickPick(
      [
        { label: "Bundled demo model", description: "tiny, for trying RLEF out", value: "demo", path: "" },
        ...downloaded.map((m) => ({ label: m.name, description: `downloaded, ${(m.sizeBytes / 1e6).toFixed(0)} MB`, value: "downloaded", path: m.path })),
        { label: "ONNX model folder…", description: "a downloaded or exported model", value: "onnx", path: "" },
        { label: "OpenAI-compatible endpoint…", description: "vLLM, Ollama, llama.cpp server, LM Studio", value: "endpoint", path: "" },
      ],
      { placeHolder: "Which model should RLEF use?" },
    );
    if (!pick) return;
    if (pick.value === "downloaded") {
      await cfg.update("policy.modelPath", pick.path, vscode.ConfigurationTarget.Global);
      await cfg.update("policy.backend", "onnx", vscode.ConfigurationTarget.Global);
      log.info(`model set to ${pick.path}`);
      return;
    }
    if (pick.value === "onnx") {
      const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: "Use This Model" });
      if (!folder?.[0]) return;
      await cfg.update("policy.modelPath", folder[0].fsPath, vscode.ConfigurationTarget.Global);
    } else if (pick.value === "endpoint") {
      const url = await vscode.window.showInputBox({ prompt: "Endpoint URL (OpenAI-compatible, ending in /v1)", value: cfg.get<string>("endpoint.url") });
      if (!url) return;
      const model = await vscode.window.showInputBox({ prompt: "Model id on that server", value: cfg.get<string>("endpoint.model") });
      if (model === undefined) return;
      await cfg.update("endpoint.url", url, vscode.ConfigurationTarget.Global);
      await cfg.update("endpoint.model", model, vscode.ConfigurationTarget.Global);
    }
    await cfg.update("policy.backend", pick.value, vscode.ConfigurationTarget.Global);
    log.info(`model backend set to ${pick.value}`);
  });
  reg("rlef.setApiKey", async () => {
    const key = await vscode.window.showInputBox({ prompt: "API key for the model endpoint (stored in VS Code's secret storage)", password: true, ignoreFocusOut: true });
    if (key === undefined) return;
    await context.secrets.store(API_KEY_SECRET, key);
    await client.sendNotification(SetApiKeyMethod, { apiKey: key || null });
    log.info("API key stored in secret storage");
  });
  reg("rlef.downloadModel", async () => {
    if (restricted()) return;
    const repo = await vscode.window.showInputBox({
      prompt: "Hugging Face model id of an ONNX decoder repository",
      placeHolder: "onnx-community/Qwen2.5-Coder-0.5B-Instruct",
      validateInput: (v) => (/^[\w.-]+\/[\w.-]+$/.test(v.trim()) ? null : "owner/name"),
    });
    if (!repo) return;
    const variant = await vscode.window.showQuickPick(
      [
        { label: "quantized", description: "int8, smallest and fastest on CPU" },
        { label: "fp32", description: "full precision" },
        { label: "fp16", description: "half precision" },
        { label: "q4", description: "4-bit weights" },
      ],
      { placeHolder: "Which variant?" },
    );
    if (!variant) return;
    try {
      const installed = (await client.sendRequest(ExecuteCommandRequest.type, {
        command: ServerCommands.downloadModel,
        arguments: [{ repo: repo.trim(), variant: variant.label }],
      })) as InstalledModelInfo;
      const cfg = vscode.workspace.getConfiguration("rlef");
      await cfg.update("policy.modelPath", installed.path, vscode.ConfigurationTarget.Global);
      await cfg.update("policy.backend", "onnx", vscode.ConfigurationTarget.Global);
      log.info(`downloaded ${installed.name} to ${installed.path}`);
      void vscode.window.showInformationMessage(`RLEF: downloaded ${installed.name} (${(installed.sizeBytes / 1e6).toFixed(0)} MB) and selected it.`);
    } catch (err) {
      void vscode.window.showErrorMessage(`RLEF: download failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}
