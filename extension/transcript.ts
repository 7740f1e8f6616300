// The transcript view of a run: each attempt's streamed answer, its test results and the feedback the
// model got next. A webview (media/transcript.js renders it); events arrive from the server as they happen.
// A message posted before the webview's script listens is lost (code-server drops it), so nothing is sent
// until the script says "ready"; then the whole backlog of the run is sent, and again after any reload.
import * as vscode from "vscode";
import type { AgentEvent } from "../server/agent/agent";

type PanelMessage = { type: "start"; runId: string; title: string } | { type: "event"; runId: string; event: AgentEvent } | { type: "end"; runId: string; summary: string };

export class TranscriptPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  /** Everything of the current run, replayed when the panel is (re)opened. */
  private backlog: PanelMessage[] = [];
  /** Whether the panel's script has said it listens. */
  private ready = false;

  constructor(private readonly extensionUri: vscode.Uri) {}

  start(runId: string, title: string): void {
    this.backlog = [];
    this.post({ type: "start", runId, title });
  }

  event(runId: string, event: AgentEvent): void {
    // "done" repeats the whole trajectory; the run's end is posted by `end`, with the reply's summary.
    if (event.type !== "done") this.post({ type: "event", runId, event });
  }

  end(runId: string, summary: string): void {
    this.post({ type: "end", runId, summary });
  }

  show(preserveFocus = true): void {
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside, preserveFocus);
      return;
    }
    const media = vscode.Uri.joinPath(this.extensionUri, "media");
    this.panel = vscode.window.createWebviewPanel("rlef.transcript", "RLEF Transcript", { viewColumn: vscode.ViewColumn.Beside, preserveFocus }, {
      enableScripts: true,
      localResourceRoots: [media],
      retainContextWhenHidden: true,
    });
    const webview = this.panel.webview;
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, "transcript.js"));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, "transcript.css"));
    const nonce = Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
    webview.html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<link rel="stylesheet" href="${style}"><title>RLEF Transcript</title></head>
<body><main id="transcript"><p class="empty">No run yet. Run "RLEF: Solve Problem in This File" or "RLEF: Fix Until Tests Pass".</p></main>
<script nonce="${nonce}" src="${script}"></script></body></html>`;
    this.ready = false;
    webview.onDidReceiveMessage((m: unknown) => {
      if ((m as { type?: unknown } | null)?.type !== "ready") return;
      this.ready = true;
      for (const message of this.backlog) void webview.postMessage(message);
    });
    this.panel.onDidDispose(() => {
      this.panel = undefined;
      this.ready = false;
    });
  }

  private post(message: PanelMessage): void {
    this.backlog.push(message);
    if (this.panel && this.ready) void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
