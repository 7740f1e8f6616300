// The status bar item: idle, or the attempt in progress; a click opens the transcript.
import * as vscode from "vscode";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.item.command = "rlef.showTranscript";
    this.idle();
    this.item.show();
  }

  idle(text = "RLEF"): void {
    this.item.text = `$(beaker) ${text}`;
    this.item.tooltip = "RLEF: show the transcript of the last run";
  }

  running(message: string): void {
    this.item.text = `$(sync~spin) RLEF: ${message}`;
    this.item.tooltip = "RLEF is running: click for the transcript; 'RLEF: Stop' cancels";
  }

  dispose(): void {
    this.item.dispose();
  }
}
