// "RLEF: Open Training Dashboard": asks for a running trainer's metrics stream (ws://127.0.0.1:PORT, which
// `rlef-train train` logs when metrics_port is set) or a run folder (metrics.jsonl, eval.jsonl), and shows that
// run in a webview that media/dashboard.js draws. Following the stream or the files is
// server/training/run-snapshot.ts's job; this file asks, opens the panel and forwards each snapshot.
// As in the transcript view, nothing is posted until the webview's script says "ready".
import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import * as vscode from "vscode";
import { parseStreamAddress } from "../server/training/metrics-stream";
import { followMetricsStream, followRunFolder, type RunFollower, type RunSnapshot } from "../server/training/run-snapshot";

const TITLE = "RLEF: Open Training Dashboard";
const LAST_ADDRESS_KEY = "rlef.dashboard.lastStreamAddress";

type Follow = (onSnapshot: (snapshot: RunSnapshot) => void) => RunFollower;

/** Registers the command. It also takes its source as an argument: a stream address (string) or a folder (Uri). */
export function registerTrainingDashboard(context: vscode.ExtensionContext): void {
  const open = new Map<string, vscode.WebviewPanel>(); // one panel per source: opening it again reveals it
  const show = (key: string, title: string, follow: Follow) => {
    const existing = open.get(key);
    if (existing) return existing.reveal();
    const panel = openDashboardPanel(context.extensionUri, title, follow);
    open.set(key, panel);
    panel.onDidDispose(() => open.delete(key));
  };

  const command = async (target?: string | vscode.Uri) => {
    const source = target ?? (await askForSource(context));
    if (source === undefined) return;
    if (typeof source === "string") {
      const address = parseStreamAddress(source);
      if ("error" in address) {
        void vscode.window.showErrorMessage(`RLEF: ${address.error}`);
        return;
      }
      await context.globalState.update(LAST_ADDRESS_KEY, address.url);
      show(`stream ${address.url}`, `RLEF Training (${address.url.replace(/^ws:\/\//, "")})`, (onSnapshot) => followMetricsStream(address.url, onSnapshot));
    } else {
      const dir = source.fsPath;
      show(`folder ${dir}`, `RLEF Training (${basename(dir)})`, (onSnapshot) => followRunFolder(dir, onSnapshot));
    }
  };
  context.subscriptions.push(vscode.commands.registerCommand("rlef.openTrainingDashboard", command), {
    dispose: () => [...open.values()].forEach((p) => p.dispose()),
  });
}

/** A stream address as typed (checked), a run folder, or undefined if the user cancelled. */
async function askForSource(context: vscode.ExtensionContext): Promise<string | vscode.Uri | undefined> {
  const choice = await vscode.window.showQuickPick(
    [
      { label: "$(plug) Connect to a running trainer", detail: 'Its live metrics stream: the "metrics stream: ws://127.0.0.1:PORT" it logs when metrics_port is set.', stream: true },
      { label: "$(folder-opened) Open a run folder", detail: "Its out_dir: metrics.jsonl and eval.jsonl, shown again whenever they change.", stream: false },
    ],
    { title: TITLE, placeHolder: "Show a training run from" },
  );
  if (!choice) return undefined;
  if (choice.stream) {
    return vscode.window.showInputBox({
      title: TITLE,
      prompt: "The trainer's metrics stream (on this machine)",
      placeHolder: "ws://127.0.0.1:PORT",
      value: context.globalState.get<string>(LAST_ADDRESS_KEY) ?? "ws://127.0.0.1:",
      ignoreFocusOut: true,
      validateInput: (text) => {
        const address = parseStreamAddress(text);
        return "error" in address ? address.error : null;
      },
    });
  }
  const picked = await vscode.window.showOpenDialog({
    title: TITLE,
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: "Show This Run",
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0];
}

function openDashboardPanel(extensionUri: vscode.Uri, title: string, follow: Follow): vscode.WebviewPanel {
  const media = vscode.Uri.joinPath(extensionUri, "media");
  const panel = vscode.window.createWebviewPanel("rlef.trainingDashboard", title, vscode.ViewColumn.Active, {
    enableScripts: true,
    localResourceRoots: [media],
    retainContextWhenHidden: true,
  });
  const webview = panel.webview;
  const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(media, name));
  const nonce = randomBytes(16).toString("hex");
  webview.html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<link rel="stylesheet" href="${asset("dashboard.css")}"><title>${escapeHtml(title)}</title></head>
<body><header><h1 id="title">RLEF training</h1>
<div class="run-state"><span id="progress-text">connecting</span><progress id="progress-bar" hidden></progress><span id="status" class="badge"></span></div>
<div id="source" class="source"></div><div id="problem" class="problem" hidden></div></header>
<h2>Training (against iteration)</h2><div id="training" class="charts"></div>
<h2>Evaluation: 1@3 rates with 95% intervals (against iteration)</h2><div id="evaluation" class="charts"></div>
<script nonce="${nonce}" src="${asset("dashboard-plot.js")}"></script>
<script nonce="${nonce}" src="${asset("dashboard.js")}"></script></body></html>`;

  let latest: RunSnapshot | null = null;
  let ready = false;
  const post = () => {
    if (ready && latest) void webview.postMessage({ type: "snapshot", snapshot: latest });
  };
  webview.onDidReceiveMessage((m: unknown) => {
    if ((m as { type?: unknown } | null)?.type !== "ready") return;
    ready = true; // again after a reload of the webview: it gets the latest snapshot, which holds everything
    post();
  });
  const follower = follow((snapshot) => {
    latest = snapshot;
    post();
  });
  panel.onDidDispose(() => follower.close());
  return panel;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}
