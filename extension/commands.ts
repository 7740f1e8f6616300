// The "RLEF" commands: each checks trust and consent, asks the language server to run the agent, streams
// the run into the transcript and the status bar, and ends in a diff review (Accept / Reject / Retry).
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient } from "vscode-languageclient/node";
import { AgentEventMethod, ServerCommands, SetApiKeyMethod, type AgentEventNotification, type AgentRunReply, type InstalledModelInfo } from "../server/lsp/protocol";
import { acceptProposal, showDiff, type PendingProposal, type ProposalDocuments } from "./review";
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
    pending = { runId: reply.runId, target: vscode.Uri.parse(reply.uri), originalText: reply.originalText, newText: reply.newText, summary: reply.summary };
    await showDiff(deps.proposals, pending);
    const choice = await vscode.window.showInformationMessage(`RLEF: ${reply.summary}. Apply the proposed change?`, "Accept", "Reject", "Retry", "One More Round");
    if (choice === "Accept") await accept();
    else if (choice === "Reject") reject();
    else if (choice === "Retry") await retry();
    else if (choice === "One More Round") await oneMoreRound();
  }

  async function accept(): Promise<void> {
    if (!pending) return void vscode.window.showInformationMessage("RLEF: there is no proposal to accept.");
    const p = pending;
    pending = null;
    const result = await acceptProposal(p);
    if (result.applied) {
      log.info(`accepted the proposal for ${p.target.fsPath}`);
      await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
      await vscode.window.showTextDocument(p.target);
    } else {
      void vscode.window.showErrorMessage(`RLEF: ${result.reason}`);
    }
  }

  function reject(): void {
    if (pending) log.info(`rejected the proposal for ${pending.target.fsPath}`);
    pending = null;
    void vscode.commands.executeCommand("workbench.action.closeActiveEditor");
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
  reg("rlef.acceptProposal", accept);
  reg("rlef.rejectProposal", reject);
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
