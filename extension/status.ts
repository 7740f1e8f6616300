// The status bar item: idle, or the attempt in progress; a click opens the transcript. Its tooltip also says
// when runs are being logged (the opt-in session log), and where.
import * as vscode from "vscode";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  private loggingTo: string | null = null;
  private tooltip = "";

  constructor() {
    this.item.command = "rlef.showTranscript";
    this.idle();
    this.item.show();
  }

  idle(text = "RLEF"): void {
    this.item.text = `$(beaker) ${text}`;
    this.setTooltip("RLEF: show the transcript of the last run");
  }

  running(message: string): void {
    this.item.text = `$(sync~spin) RLEF: ${message}`;
    this.setTooltip("RLEF is running: click for the transcript; 'RLEF: Stop' cancels");
  }

  /** The session log's folder while runs are logged, else null. */
  sessionLogging(folder: string | null): void {
    this.loggingTo = folder;
    this.setTooltip(this.tooltip);
  }

  private setTooltip(text: string): void {
    this.tooltip = text;
    this.item.tooltip = this.loggingTo === null ? text : `${text}\nSession logging on: ${this.loggingTo}`;
  }

  dispose(): void {
    this.item.dispose();
  }
}
