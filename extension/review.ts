// Diff review of a proposal: the proposed text is a read-only virtual document shown against the file;
// nothing touches the user's file until Accept, which applies one undoable edit.
import * as vscode from "vscode";

export interface PendingProposal {
  runId: string;
  target: vscode.Uri;
  originalText: string | null;
  newText: string;
  summary: string;
}

export class ProposalDocuments implements vscode.TextDocumentContentProvider {
  static readonly scheme = "rlef-proposal";
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? "";
  }

  /** Registers a text under a virtual URI that mirrors the target's path (so the diff has the right language). */
  put(kind: "proposed" | "original", p: PendingProposal, text: string): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: ProposalDocuments.scheme, path: p.target.path, query: `${kind}=${p.runId}` });
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
    return uri;
  }
}

/** The run id of a proposal's virtual document (either side of its diff), or null for any other URI. */
export function proposalRunId(uri: vscode.Uri): string | null {
  if (uri.scheme !== ProposalDocuments.scheme) return null;
  return /^(?:proposed|original)=(.+)$/.exec(uri.query)?.[1] ?? null;
}

/** Tabs showing the diff of run `runId`'s proposal. */
export function diffTabs(runId: string): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => isDiffOf(t, runId));
}

export function isDiffOf(tab: vscode.Tab, runId: string): boolean {
  return tab.input instanceof vscode.TabInputTextDiff && proposalRunId(tab.input.modified) === runId;
}

/** Closes the diff of run `runId`'s proposal wherever it is open. */
export async function closeDiff(runId: string): Promise<void> {
  const tabs = diffTabs(runId);
  if (tabs.length) await vscode.window.tabGroups.close(tabs);
}

export async function showDiff(docs: ProposalDocuments, p: PendingProposal): Promise<void> {
  const right = docs.put("proposed", p, p.newText);
  const left = p.originalText === null ? docs.put("original", p, "") : p.target;
  const name = p.target.path.split("/").pop() ?? "file";
  await vscode.commands.executeCommand("vscode.diff", left, right, `RLEF proposal: ${name} (${p.summary})`, { preview: false });
}

export type AcceptResult = { applied: true } | { applied: false; reason: string };

/** Applies the proposal as one edit, only if the file still has the text the proposal was made from. */
export async function acceptProposal(p: PendingProposal): Promise<AcceptResult> {
  const edit = new vscode.WorkspaceEdit();
  if (p.originalText === null) {
    const exists = await vscode.workspace.fs.stat(p.target).then(
      () => true,
      () => false,
    );
    if (exists) return { applied: false, reason: `${p.target.fsPath} was created meanwhile; run again to get a fresh proposal` };
    edit.createFile(p.target, { ignoreIfExists: false, contents: Buffer.from(p.newText, "utf8") });
  } else {
    const doc = await vscode.workspace.openTextDocument(p.target);
    if (doc.getText() !== p.originalText) {
      return { applied: false, reason: `${p.target.fsPath} changed since the run started; nothing was applied. Run again to get a fresh proposal` };
    }
    const whole = new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length));
    edit.replace(p.target, whole, p.newText);
  }
  const ok = await vscode.workspace.applyEdit(edit);
  if (!ok) return { applied: false, reason: "VS Code refused the edit" };
  if (p.originalText !== null) await (await vscode.workspace.openTextDocument(p.target)).save();
  return { applied: true };
}
