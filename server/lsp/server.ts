// The RLEF language server (stdio). Every agent feature is here, so any LSP client that can run commands
// can drive it: `workspace/executeCommand` for runs, work-done progress with cancellation, code lenses on
// functions, and a "Fix with RLEF" code action on test-failure diagnostics.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  CodeActionKind,
  DiagnosticSeverity,
  type Diagnostic,
  TextDocuments,
  TextDocumentSyncKind,
  type CancellationToken,
  type WorkspaceEdit,
  type CodeAction,
  type CodeLens,
  type Connection,
  type InitializeParams,
  WorkDoneProgressReporter,
} from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { AgentEvent } from "../agent/agent";
import { findFunctions, languageOfFile } from "../agent/code-regions";
import { makePolicyLoader } from "../agent/policy-loader";
import { AgentSession, type AgentRunResult } from "../agent/session";
import {
  AgentEventMethod,
  LSP_PROTOCOL_VERSION,
  ReviewDecisionMethod,
  ServerCommands,
  SetApiKeyMethod,
  type ReviewDecisionParams,
  type SessionLogStatus,
  type AgentRunReply,
  type InitializationOptions,
  type InstalledModelInfo,
  type SetApiKeyParams,
  type FixUntilTestsPassArgs,
  type ServerStatus,
  type SolveProblemArgs,
} from "./protocol";
import { parseSettings } from "./settings";
import { downloadModel } from "../models/download-model";
import { defaultModelCacheDir, hubSettingsFromEnv } from "../models/hub-settings";
import { listModels, type InstalledModel } from "../models/model-cache";
import type { OnnxVariant } from "../policy/onnx/model-folder";
import { clearSessionLog, defaultSessionLogDir, readSessionLog, SessionLogError, SessionLogWriter, type SessionLogContents } from "../session-log/log";
import type { SessionRecord } from "../session-log/record";
import { expandHome } from "../session-log/folder";

/** Client-side command the code lenses and code actions invoke (the VS Code extension wraps it with diff review). */
const CLIENT_FIX_COMMAND = "rlef.fixUntilTestsPass";
/** Source of the diagnostics the server publishes for tests still failing after a fix. */
const TEST_DIAGNOSTIC_SOURCE = "rlef-tests";

export function startServer(connection: Connection, root: string): void {
  const documents = new TextDocuments(TextDocument);
  let session: AgentSession | null = null;
  const runs = new Map<string, AbortController>();
  let workspaceFolders: string[] = [];
  let apiKey: string | undefined;
  let modelCacheDir: string | undefined;
  let client = "LSP client";
  let settings = parseSettings(undefined);
  /** Runs this server started, by id, so a later review decision is logged only for a run that was logged. */
  const logged = new Map<string, string>();

  connection.onNotification(ReviewDecisionMethod, (params: ReviewDecisionParams) => {
    const folder = typeof params?.runId === "string" ? logged.get(params.runId) : undefined;
    if (!folder || (params.decision !== "accepted" && params.decision !== "rejected")) return;
    // Only while logging is still on, into the folder the run went to.
    if (!settings.sessionLog.enabled || sessionLogFolder() !== folder) return;
    logged.delete(params.runId);
    new SessionLogWriter(folder).writeReview(params.runId, params.decision).catch((err: Error) => connection.console.error(`session log: ${err.message}`));
  });

  connection.onNotification(SetApiKeyMethod, (params: SetApiKeyParams) => {
    apiKey = typeof params?.apiKey === "string" && params.apiKey ? params.apiKey : undefined;
  });

  connection.onInitialize((params: InitializeParams) => {
    const init = (params.initializationOptions ?? {}) as InitializationOptions;
    modelCacheDir = typeof init.modelCacheDir === "string" && init.modelCacheDir ? init.modelCacheDir : undefined;
    const loader = makePolicyLoader({ root, apiKey: () => apiKey, modelCacheDir: () => modelCacheDir, log: (line) => connection.console.log(line) });
    settings = parseSettings(init.settings);
    session = new AgentSession(settings, loader, () => connection.console.log("the model's files changed (a new export or download): loading the new model for this run"));
    if (params.clientInfo?.name) client = params.clientInfo.version ? `${params.clientInfo.name} ${params.clientInfo.version}` : params.clientInfo.name;
    workspaceFolders = (params.workspaceFolders ?? []).map((f) => fileURLToPath(f.uri));
    if (workspaceFolders.length === 0 && params.rootUri) workspaceFolders = [fileURLToPath(params.rootUri)];
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        executeCommandProvider: { commands: Object.values(ServerCommands), workDoneProgress: true },
        codeLensProvider: { resolveProvider: false },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      },
      serverInfo: { name: "rlef", version: String(LSP_PROTOCOL_VERSION) },
    };
  });

  connection.onDidChangeConfiguration((change) => {
    const raw = (change.settings as { rlef?: unknown } | null)?.rlef;
    if (raw === undefined || !session) return;
    try {
      settings = parseSettings(raw);
      session.updateSettings(settings);
    } catch (err) {
      // The previous settings stay. A client without window/showMessageRequest answers with an error: the
      // message is in the server's log either way, and the server must not die of the rejection.
      const message = `RLEF: ${(err as Error).message}`;
      connection.console.error(message);
      // (typed void, but it sends window/showMessageRequest and returns that request's promise)
      Promise.resolve(connection.window.showErrorMessage(message) as unknown).catch(() => {});
    }
  });

  connection.onCodeLens((params): CodeLens[] => {
    const doc = documents.get(params.textDocument.uri);
    const file = doc ? uriToPath(doc.uri) : null;
    const language = file ? languageOfFile(file) : null;
    if (!doc || !file || !language) return [];
    return findFunctions(doc.getText(), language)
      .filter((f) => f.depth <= 1)
      .map((f) => ({
        range: { start: { line: f.startLine - 1, character: 0 }, end: { line: f.startLine - 1, character: 0 } },
        command: { title: "$(beaker) Fix until tests pass", command: CLIENT_FIX_COMMAND, arguments: [doc.uri, f.startLine - 1] },
      }));
  });

  connection.onCodeAction((params): CodeAction[] => {
    const failures = params.context.diagnostics.filter((d) => d.source === TEST_DIAGNOSTIC_SOURCE || /test/i.test(d.source ?? ""));
    if (failures.length === 0) return [];
    return [
      {
        title: "Fix with RLEF",
        kind: CodeActionKind.QuickFix,
        diagnostics: failures,
        command: { title: "Fix with RLEF", command: CLIENT_FIX_COMMAND, arguments: [params.textDocument.uri, params.range.start.line] },
      },
    ];
  });

  connection.onExecuteCommand(async (params, token, workDone) => {
    if (!session) throw new Error("the server is not initialised");
    const arg = (params.arguments?.[0] ?? {}) as Record<string, unknown>;
    switch (params.command) {
      case ServerCommands.solveProblem:
      case ServerCommands.fixUntilTestsPass: {
        const runId = typeof arg.runId === "string" && arg.runId ? arg.runId : randomUUID();
        if (runs.has(runId)) throw new Error(`a run with id ${runId} is already in progress`);
        const controller = new AbortController();
        runs.set(runId, controller);
        const progress = await cancellableProgress(token, workDone, controller);
        progress.begin("RLEF", undefined, "starting", true);
        try {
          const result = await startRun(session, params.command, arg, runId, controller.signal, progress);
          await logRun(runId, params.command, arg, result);
          return toReply(runId, result);
        } finally {
          runs.delete(runId);
          progress.done();
        }
      }
      case ServerCommands.stop: {
        const id = typeof arg.runId === "string" ? arg.runId : null;
        let stopped = 0;
        for (const [runId, controller] of runs) {
          if (id === null || id === runId) {
            controller.abort();
            stopped++;
          }
        }
        return { stopped };
      }
      case ServerCommands.listModels:
        return listModels(modelCacheDir ?? defaultModelCacheDir()).map(modelInfo);
      case ServerCommands.downloadModel: {
        const repo = typeof arg.repo === "string" ? arg.repo.trim() : "";
        if (!repo) throw new Error("downloadModel needs { repo } such as onnx-community/Qwen2.5-Coder-0.5B-Instruct");
        const variant = typeof arg.variant === "string" ? (arg.variant as OnnxVariant) : undefined;
        const revision = typeof arg.revision === "string" && arg.revision ? arg.revision : undefined;
        const controller = new AbortController();
        const progress = await cancellableProgress(token, workDone, controller);
        progress.begin(`Downloading ${repo}`, 0, "listing files", true);
        try {
          const installed = await downloadModel({
            repo,
            revision,
            variant,
            cacheDir: modelCacheDir ?? defaultModelCacheDir(),
            hub: hubSettingsFromEnv(),
            signal: controller.signal,
            onProgress: (p) => progress.report(p.bytesTotal ? Math.floor((p.bytesDone / p.bytesTotal) * 100) : 0, `${p.file} (${(p.bytesDone / 1e6).toFixed(1)} of ${(p.bytesTotal / 1e6).toFixed(1)} MB)`),
          });
          return modelInfo(installed);
        } finally {
          progress.done();
        }
      }
      case ServerCommands.sessionLogStatus:
        return sessionLogStatus();
      case ServerCommands.clearSessionLog: {
        const deleted = await clearSessionLog(sessionLogFolder());
        logged.clear();
        return { deleted };
      }
      case ServerCommands.status: {
        const status: ServerStatus = { version: LSP_PROTOCOL_VERSION, policy: null, isolation: null, runs: [...runs.keys()] };
        return status;
      }
      default:
        throw new Error(`unknown command ${params.command}`);
    }
  });

  /**
   * Progress for a long command: on the client's own work-done token when it sent one, else on a
   * server-created one; cancelling the request or the progress aborts `controller`.
   */
  async function cancellableProgress(token: CancellationToken, workDone: WorkDoneProgressReporter, controller: AbortController): Promise<WorkDoneProgressReporter> {
    token.onCancellationRequested(() => controller.abort());
    if (!WorkDoneProgressReporter.isNullInstance(workDone)) return workDone;
    const created = await connection.window.createWorkDoneProgress();
    created.token.onCancellationRequested(() => controller.abort());
    return created;
  }

  async function startRun(
    s: AgentSession,
    command: string,
    arg: Record<string, unknown>,
    runId: string,
    signal: AbortSignal,
    progress: WorkDoneProgressReporter,
  ): Promise<AgentRunResult> {
    const uri = typeof arg.uri === "string" ? arg.uri : null;
    if (!uri) throw new Error(`${command} needs { uri }`);
    const file = uriToPath(uri);
    if (!file) throw new Error(`${uri} is not a file: URI`);
    const attempts = typeof arg.attempts === "number" ? arg.attempts : undefined;
    const tracker = progressTracker(progress, attempts);
    const controls = {
      signal,
      allowUnisolated: arg.allowUnisolated === true,
      attempts,
      hint: typeof arg.hint === "string" && arg.hint.trim() ? arg.hint.trim() : undefined,
      onEvent: (event: AgentEvent) => {
        tracker(event);
        void connection.sendNotification(AgentEventMethod, { runId, event });
      },
    };
    if (typeof arg.continueRunId === "string" && arg.continueRunId) {
      const result = await s.oneMoreRound(arg.continueRunId, controls, runId);
      if (command === ServerCommands.fixUntilTestsPass) publishTestDiagnostics(uri, result);
      return result;
    }
    if (command === ServerCommands.solveProblem) {
      const a = arg as unknown as SolveProblemArgs;
      const text = documents.get(a.uri)?.getText() ?? (await readFile(file, "utf8"));
      return s.solveProblemFile(file, text, controls, runId);
    }
    const a = arg as unknown as FixUntilTestsPassArgs;
    const doc = documents.get(a.uri);
    const onDisk = await readFile(file, "utf8");
    if (doc && doc.getText() !== onDisk) throw new Error(`${file} has unsaved changes: save it first, so the tests run on what you see`);
    const root = workspaceFolders.filter((f) => file.startsWith(f + "/")).sort((x, y) => y.length - x.length)[0];
    if (!root) throw new Error(`${file} is not inside an open workspace folder`);
    const testCommand = typeof a.testCommand === "string" ? a.testCommand.trim().split(/\s+/).filter(Boolean) : Array.isArray(a.testCommand) ? a.testCommand.filter((x) => typeof x === "string") : undefined;
    const result = await s.fixUntilTestsPass(root, file, typeof a.line === "number" ? a.line + 1 : null, { ...controls, testCommand }, runId);
    publishTestDiagnostics(a.uri, result);
    return result;
  }

  function sessionLogFolder(): string {
    return settings.sessionLog.folder ? expandHome(settings.sessionLog.folder) : defaultSessionLogDir();
  }

  /**
   * With rlef.sessionLog.enabled, appends the finished run to the session log. A run that made no attempt is
   * not logged; a failure to log is reported in the server's log and never fails the run.
   */
  async function logRun(runId: string, command: string, arg: Record<string, unknown>, result: AgentRunResult): Promise<void> {
    if (!settings.sessionLog.enabled || result.trajectory.turns.length === 0) return;
    const continues = typeof arg.continueRunId === "string" && arg.continueRunId ? arg.continueRunId : undefined;
    const kind: SessionRecord["command"] = continues ? "one-more-round" : command === ServerCommands.solveProblem ? "solve" : "fix";
    const folder = sessionLogFolder();
    const hint = typeof arg.hint === "string" && arg.hint.trim() ? arg.hint.trim() : undefined;
    try {
      await new SessionLogWriter(folder, { redaction: { secrets: apiKey ? [apiKey] : [] } }).writeSession({ id: runId, command: kind, continues, client, task: result.task, trajectory: result.trajectory, hint });
      logged.set(runId, folder);
      while (logged.size > 1000) logged.delete(logged.keys().next().value as string);
    } catch (err) {
      connection.console.error(`session log: run ${runId} not logged: ${(err as Error).message}`);
    }
  }

  async function sessionLogStatus(): Promise<SessionLogStatus> {
    const folder = sessionLogFolder();
    let log: SessionLogContents;
    try {
      log = await readSessionLog(folder);
    } catch (err) {
      if (!(err instanceof SessionLogError)) throw err;
      return { enabled: settings.sessionLog.enabled, folder, sessions: 0, trainable: 0, reviews: { accepted: 0, rejected: 0 }, bytes: 0, problems: [err.message] };
    }
    const reviews = [...log.reviews.values()];
    return {
      enabled: settings.sessionLog.enabled,
      folder,
      sessions: log.sessions.length,
      trainable: log.sessions.filter((s) => s.trainable).length,
      reviews: { accepted: reviews.filter((d) => d === "accepted").length, rejected: reviews.filter((d) => d === "rejected").length },
      bytes: log.bytes,
      problems: log.problems.slice(0, 20).map((p) => `${p.file}:${p.line}: ${p.message}`),
    };
  }

  /** Failing tests of a finished fix become diagnostics on the target, where "Fix with RLEF" is offered. */
  function publishTestDiagnostics(uri: string, result: AgentRunResult): void {
    const final = result.trajectory.final;
    if (!final || result.outcome === "cancelled") return;
    const failing = final.results.filter((r) => r.outcome !== "passed");
    const range = result.region
      ? { start: { line: result.region.startLine - 1, character: 0 }, end: { line: result.region.endLine - 1, character: Number.MAX_SAFE_INTEGER } }
      : { start: { line: 0, character: 0 }, end: { line: 0, character: Number.MAX_SAFE_INTEGER } };
    const diagnostics: Diagnostic[] = failing.slice(0, 20).map((r) => ({
      range,
      severity: DiagnosticSeverity.Warning,
      source: TEST_DIAGNOSTIC_SOURCE,
      message: `${r.name ?? `test ${r.index + 1}`}: ${r.outcome.replace(/_/g, " ")} (with the proposed change)`,
    }));
    void connection.sendDiagnostics({ uri, diagnostics });
  }

  documents.listen(connection);
  connection.onShutdown(async () => {
    for (const c of runs.values()) c.abort();
    await session?.dispose();
  });
  connection.listen();
}

/** "attempt 2 of 3: 3 of 7 tests failing" while a run goes on. */
function progressTracker(progress: WorkDoneProgressReporter, attempts: number | undefined): (event: AgentEvent) => void {
  let maxTurns = attempts ?? 3;
  let turn = 0;
  return (event) => {
    switch (event.type) {
      case "turn-started":
        turn = event.turn;
        maxTurns = event.maxTurns;
        progress.report(Math.round(((turn - 1) / maxTurns) * 100), `attempt ${turn} of ${maxTurns}: writing code`);
        break;
      case "code-extracted":
        progress.report(`attempt ${turn} of ${maxTurns}: ${event.invalid ? "no code in the answer" : "running tests"}`);
        break;
      case "test-results": {
        const failing = event.results.filter((r) => r.outcome !== "passed").length;
        const msg = event.runError ? `tests could not run` : failing === 0 ? "all tests pass" : `${failing} of ${event.results.length} tests failing`;
        progress.report(Math.round((turn / maxTurns) * 100), `attempt ${turn} of ${maxTurns}: ${msg}`);
        break;
      }
      default:
        break;
    }
  };
}

function modelInfo(m: InstalledModel): InstalledModelInfo {
  return { name: m.name, path: m.path, sizeBytes: m.sizeBytes, current: m.current };
}

function uriToPath(uri: string): string | null {
  try {
    return uri.startsWith("file:") ? fileURLToPath(uri) : null;
  } catch {
    return null;
  }
}

/** Replace the whole file (its current text is `original`), or create it when `original` is null. */
function proposalEdit(uri: string, original: string | null, newText: string | null): WorkspaceEdit | null {
  if (newText === null) return null;
  if (original === null) {
    return {
      documentChanges: [
        { kind: "create", uri, options: { overwrite: false, ignoreIfExists: false } },
        { textDocument: { uri, version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText }] },
      ],
    };
  }
  const lines = original.split("\n");
  const end = { line: lines.length - 1, character: lines[lines.length - 1].length };
  return { changes: { [uri]: [{ range: { start: { line: 0, character: 0 }, end }, newText }] } };
}

function toReply(runId: string, result: AgentRunResult): AgentRunReply {
  const iso = result.trajectory.isolation;
  const uri = pathToFileURL(result.proposal.file).toString();
  return {
    runId,
    outcome: result.outcome,
    summary: result.summary,
    uri,
    originalText: result.proposal.originalText,
    newText: result.proposal.newText,
    edit: proposalEdit(uri, result.proposal.originalText, result.proposal.newText),
    attempts: result.trajectory.turns.length,
    isolation: iso ? iso.mode : undefined,
  };
}
