// The VS Code side of RLEF: wiring and UI only. The agent, the sandbox and the policy live in the
// language server (server/), started here through vscode-languageclient.
import * as vscode from "vscode";
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";
import { SetApiKeyMethod } from "../server/lsp/protocol";
import { API_KEY_SECRET, registerCommands } from "./commands";
import { registerTrainingDashboard } from "./dashboard";
import { ProposalDocuments } from "./review";
import { registerSessionLog } from "./session-log";
import { StatusBar } from "./status";
import { TranscriptPanel } from "./transcript";

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel("RLEF", { log: true });
  context.subscriptions.push(log);

  // Fires once the `rlef` settings have been sent to the server (at start and after each change), so what is
  // asked of the server afterwards is answered with those settings.
  const settingsSent = new vscode.EventEmitter<void>();
  context.subscriptions.push(settingsSent);

  const serverModule = context.asAbsolutePath("dist/server.js");
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.stdio },
    debug: { module: serverModule, transport: TransportKind.stdio },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "python" },
      { scheme: "file", language: "javascript" },
      { scheme: "file", language: "typescript" },
      { scheme: "file", language: "markdown" },
      { scheme: "file", language: "plaintext" },
    ],
    synchronize: { configurationSection: "rlef" },
    initializationOptions: {
      settings: vscode.workspace.getConfiguration().get("rlef"),
      modelCacheDir: vscode.Uri.joinPath(context.globalStorageUri, "models").fsPath,
    },
    outputChannel: log,
    middleware: {
      workspace: {
        didChangeConfiguration: async (sections, next) => {
          await next(sections);
          settingsSent.fire();
        },
      },
    },
  };
  client = new LanguageClient("rlef", "RLEF", serverOptions, clientOptions);

  const proposals = new ProposalDocuments();
  const status = new StatusBar();
  const transcript = new TranscriptPanel(context.extensionUri);
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(ProposalDocuments.scheme, proposals), status, transcript);
  registerCommands(context, { client, log, proposals, status, transcript });
  registerSessionLog(context, { client, log, status, onSettingsSent: settingsSent.event });
  registerTrainingDashboard(context);

  if (!vscode.workspace.isTrusted) {
    log.info("Restricted Mode: RLEF will not run code until the workspace is trusted.");
  }
  await client.start();
  // The endpoint's API key lives in secret storage and reaches the server only in memory.
  await client.sendNotification(SetApiKeyMethod, { apiKey: (await context.secrets.get(API_KEY_SECRET)) ?? null });
  log.info("RLEF language server started");
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
