// The opt-in session log's UI: the consent dialog that turns it on, turning it off, showing and deleting the
// log, and a line in the status bar while it is on. The language server writes, reads and deletes the log
// (server/session-log); the folder it reports is the one place that knows where the log is.
import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient } from "vscode-languageclient/node";
import { ServerCommands, type SessionLogStatus } from "../server/lsp/protocol";
import type { StatusBar } from "./status";

interface Deps {
  client: LanguageClient;
  log: vscode.LogOutputChannel;
  status: StatusBar;
  /** Fires after the `rlef` settings were sent to the server, so a status asked for then reflects them. */
  onSettingsSent: vscode.Event<void>;
}

// The server's file names (server/session-log/log.ts): one file per month.
const LOG_FILE = /^sessions-\d{4}-\d{2}\.jsonl$/;

export function registerSessionLog(context: vscode.ExtensionContext, deps: Deps): void {
  const { client, log, status } = deps;
  const setting = () => vscode.workspace.getConfiguration("rlef.sessionLog");

  const askStatus = async () => (await client.sendRequest(ExecuteCommandRequest.type, { command: ServerCommands.sessionLogStatus, arguments: [] })) as SessionLogStatus;

  /** The server's status, or null after telling the user why there is none. */
  async function logStatus(): Promise<SessionLogStatus | null> {
    try {
      return await askStatus();
    } catch (err) {
      failed("cannot read the session log", err);
      return null;
    }
  }

  function failed(what: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    log.error(`${what}: ${message}`);
    void vscode.window.showErrorMessage(`RLEF: ${what}: ${message}`);
  }

  // The status bar and the output say whether runs are logged, and where. Only a change of the session-log
  // settings asks the server again (its status reads the whole log), and only while logging is on.
  let shownFor: string | undefined;
  let loggingOn = false;
  let updating = Promise.resolve();
  async function showLogging(): Promise<void> {
    const key = JSON.stringify([setting().get("enabled"), setting().get("folder")]);
    if (key === shownFor) return;
    shownFor = key;
    let folder: string | null = null;
    if (setting().get<boolean>("enabled") === true) {
      try {
        const s = await askStatus();
        if (s.enabled) folder = s.folder;
      } catch (err) {
        log.warn(`session log status unavailable: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    status.sessionLogging(folder);
    if (folder !== null) log.info(`session logging on: ${folder}`);
    else if (loggingOn) log.info("session logging off");
    loggingOn = folder !== null;
  }
  // One at a time, so quick changes are shown in the order they happened.
  context.subscriptions.push(deps.onSettingsSent(() => void (updating = updating.then(showLogging))));

  async function turnOn(): Promise<void> {
    const s = await logStatus();
    if (!s) return;
    if (s.enabled) {
      void vscode.window.showInformationMessage(`RLEF: session logging is already on; runs are logged to ${s.folder}.`);
      return;
    }
    const choice = await vscode.window.showInformationMessage(
      "Turn on RLEF session logging?",
      {
        modal: true,
        detail:
          "After each agent run, RLEF keeps a record of it on this machine: the task, the model's attempts, the test outcomes and the feedback, and whether you accepted or rejected the proposal.\n\n" +
          "Before anything is written, API keys, tokens, private keys, passwords in assignments, e-mail addresses, your home folder and your user name are replaced. This is a safety net, not a guarantee: if your code holds secrets in unusual forms, leave logging off.\n\n" +
          `The log stays in ${s.folder} and is never sent anywhere. The trainer can learn from it (rlef-train sessions). You can turn logging off and delete the log at any time.`,
      },
      "Turn On",
    );
    if (choice !== "Turn On") return;
    await setting().update("enabled", true, vscode.ConfigurationTarget.Global);
    log.info("session logging turned on (user consent)");
    void vscode.window.showInformationMessage(`RLEF: session logging is on; runs are logged to ${s.folder}.`);
  }

  async function turnOff(): Promise<void> {
    await setting().update("enabled", false, vscode.ConfigurationTarget.Global);
    log.info("session logging turned off");
    const choice = await vscode.window.showInformationMessage("RLEF: session logging is off. What was logged stays until you delete it.", "Delete Session Logs…");
    if (choice) await deleteLogs();
  }

  async function deleteLogs(): Promise<void> {
    const s = await logStatus();
    if (!s) return;
    if (s.bytes === 0) {
      void vscode.window.showInformationMessage(`RLEF: there is no session log in ${s.folder}.`);
      return;
    }
    const reviews = s.reviews.accepted + s.reviews.rejected;
    const choice = await vscode.window.showWarningMessage(
      `Delete the RLEF session log (${count(s.sessions, "session")})?`,
      {
        modal: true,
        detail:
          `This deletes the session log files in ${s.folder} (${count(s.sessions, "session")}, ${count(reviews, "review")}, ${size(s.bytes)}). It cannot be undone.` +
          (s.enabled ? " Logging stays on: later runs start a new log." : ""),
      },
      "Delete",
    );
    if (choice !== "Delete") return;
    try {
      const { deleted } = (await client.sendRequest(ExecuteCommandRequest.type, { command: ServerCommands.clearSessionLog, arguments: [] })) as { deleted: number };
      log.info(`deleted ${count(deleted, "session log file")} from ${s.folder}`);
      void vscode.window.showInformationMessage(`RLEF: deleted ${count(deleted, "session log file")} from ${s.folder}.`);
    } catch (err) {
      failed("deleting the session log failed", err);
    }
  }

  async function show(): Promise<void> {
    const s = await logStatus();
    if (!s) return;
    type Item = vscode.QuickPickItem & { run?: () => unknown };
    const newest = await newestLogFile(s.folder);
    const items: Item[] = [
      { label: s.enabled ? "$(record) Session logging is on" : "$(circle-slash) Session logging is off", description: s.enabled ? "each finished run is recorded" : "runs are not recorded" },
      { label: `$(folder) ${s.folder}`, description: "copy the path", run: () => vscode.env.clipboard.writeText(s.folder) },
      { label: `$(history) ${count(s.sessions, "session")}`, description: `${s.trainable} of them trainable (rlef-train sessions)` },
      { label: `$(feedback) ${s.reviews.accepted} accepted, ${s.reviews.rejected} rejected`, description: "your decisions in the diff review" },
      { label: `$(database) ${size(s.bytes)}` },
      { label: "", kind: vscode.QuickPickItemKind.Separator },
    ];
    if (newest) items.push({ label: "$(go-to-file) Open the Newest Log File", description: newest.path.split("/").pop(), run: () => vscode.window.showTextDocument(newest, { preview: true }) });
    // Revealing a folder in the OS file manager works only where the window's files are local.
    if (newest && vscode.env.remoteName === undefined && vscode.env.uiKind === vscode.UIKind.Desktop) {
      items.push({ label: "$(folder-opened) Reveal in File Manager", run: () => vscode.commands.executeCommand("revealFileInOS", newest) });
    }
    items.push(s.enabled ? { label: "$(circle-slash) Turn Off Session Logging", run: turnOff } : { label: "$(record) Turn On Session Logging…", run: turnOn });
    if (s.bytes > 0) items.push({ label: "$(trash) Delete Session Logs…", run: deleteLogs });
    if (s.problems.length) {
      items.push({ label: "Lines that could not be read", kind: vscode.QuickPickItemKind.Separator });
      for (const problem of s.problems) items.push(problemItem(problem));
    }
    const pick = await vscode.window.showQuickPick(items, { title: "RLEF Session Log", placeHolder: "The log of your agent runs, kept on this machine only" });
    await pick?.run?.();
  }

  /** "file:line: why" as the server reports it; selecting it opens the file at that line. */
  function problemItem(problem: string): vscode.QuickPickItem & { run?: () => unknown } {
    const m = /^(.*):(\d+): (.*)$/s.exec(problem);
    if (!m) return { label: `$(warning) ${problem}` };
    const [, file, line, why] = m;
    const uri = vscode.Uri.file(file);
    const at = Math.max(Number(line) - 1, 0);
    return {
      label: `$(warning) ${file.split("/").pop()}:${line}`,
      detail: why,
      run: () => vscode.window.showTextDocument(uri, { selection: new vscode.Range(at, 0, at, 0), preview: true }),
    };
  }

  const reg = (id: string, fn: () => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  reg("rlef.turnOnSessionLogging", turnOn);
  reg("rlef.turnOffSessionLogging", turnOff);
  reg("rlef.showSessionLog", show);
  reg("rlef.deleteSessionLogs", deleteLogs);
}

async function newestLogFile(folder: string): Promise<vscode.Uri | null> {
  const dir = vscode.Uri.file(folder);
  // A folder that does not exist yet (nothing logged) or cannot be listed has no file to open.
  const entries = await vscode.workspace.fs.readDirectory(dir).then(
    (e) => e,
    () => [] as [string, vscode.FileType][],
  );
  const names = entries.filter(([name, type]) => type === vscode.FileType.File && LOG_FILE.test(name)).map(([name]) => name);
  const name = names.sort().pop();
  return name ? vscode.Uri.joinPath(dir, name) : null;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}
