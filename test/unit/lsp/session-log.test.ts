// The opt-in session log through the language server, as any LSP client drives it: nothing is logged until
// the user turns it on; then each finished run becomes one redacted line, the review decision another, and the
// status and clear commands report and delete exactly the log.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { MessageConnection } from "vscode-jsonrpc/node";
import type { SessionLogStatus } from "../../../server/lsp/protocol";
import type { SessionRecord } from "../../../server/session-log/record";
import { spawnLanguageServer } from "./stdio-server";

let conn: MessageConnection;
let stop: () => Promise<void>;
let workspace: string;
let logDir: string;
const logLines: string[] = [];

const wrong = "```python\nn = int(input())\nprint(n)\n```";
const right = "```python\nn = int(input())\nprint(2 * n)\n```";
const API_KEY = "sk-local-endpoint-key-0123456789";

before(async () => {
  workspace = mkdtempSync(join(tmpdir(), "rlef-lsp-log-"));
  logDir = join(workspace, "state", "sessions");
  // The problem file mentions the API key the editor holds and an e-mail address: neither may reach the disk.
  writeFileSync(join(workspace, "double.md"), `Double n. Questions to ops@example.com.\n\n### Input\n\`\`\`\n4\n\`\`\`\n### Output\n\`\`\`\n8\n\`\`\`\n`);
  writeFileSync(join(workspace, "triple.md"), `Triple n (server key ${API_KEY}).\n\n### Input\n\`\`\`\n4\n\`\`\`\n### Output\n\`\`\`\n12\n\`\`\`\n`);
  const replay = join(workspace, "replay.json");
  writeFileSync(replay, JSON.stringify({ responses: [wrong, right] }));
  ({ conn, stop } = spawnLanguageServer({ RLEF_REPLAY_POLICY: replay, XDG_STATE_HOME: join(workspace, "default-state") }));
  conn.onRequest("window/workDoneProgress/create", () => null);
  conn.onNotification("window/logMessage", (p: { message: string }) => void logLines.push(p.message));
  conn.listen();
  await conn.sendRequest("initialize", {
    processId: process.pid,
    clientInfo: { name: "Test Client", version: "9.9" },
    rootUri: pathToFileURL(workspace).toString(),
    workspaceFolders: [{ uri: pathToFileURL(workspace).toString(), name: "ws" }],
    capabilities: { window: { workDoneProgress: true } },
    initializationOptions: { settings: {} },
  });
  await conn.sendNotification("initialized", {});
  await conn.sendNotification("rlef/setApiKey", { apiKey: API_KEY });
});

after(async () => {
  await stop();
  rmSync(workspace, { recursive: true, force: true });
});

const solve = (file: string, runId: string, extra: object = {}) =>
  conn.sendRequest("workspace/executeCommand", { command: "rlef.server.solveProblem", arguments: [{ uri: pathToFileURL(join(workspace, file)).toString(), runId, ...extra }] }) as Promise<{ outcome: string }>;
const command = <T>(name: string) => conn.sendRequest("workspace/executeCommand", { command: name, arguments: [] }) as Promise<T>;
const configure = (sessionLog: object) => conn.sendNotification("workspace/didChangeConfiguration", { settings: { rlef: { sessionLog } } });
const logged = () =>
  existsSync(logDir)
    ? readdirSync(logDir)
        .flatMap((f) => readFileSync(join(logDir, f), "utf8").trim().split("\n"))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

/** Notifications carry no reply: a status request after one is answered only once the server has handled it. */
async function settle(): Promise<void> {
  await command("rlef.server.status");
}

test("with logging off (the default) a run writes nothing, anywhere", async () => {
  assert.equal((await solve("double.md", "off-1")).outcome, "solved");
  await conn.sendNotification("rlef/reviewDecision", { runId: "off-1", decision: "accepted" });
  const status = await command<SessionLogStatus>("rlef.server.sessionLogStatus");
  assert.deepEqual([status.enabled, status.sessions, status.folder], [false, 0, join(workspace, "default-state", "rlef", "sessions")]);
  assert.equal(existsSync(join(workspace, "default-state")), false);
});

test("with logging on, each run is one redacted line and the user's decision another", async () => {
  await configure({ enabled: true, folder: logDir });
  await settle();
  assert.equal((await solve("double.md", "on-1")).outcome, "solved");
  await conn.sendNotification("rlef/reviewDecision", { runId: "on-1", decision: "accepted" });
  // A decision about a run that was never logged, or a malformed one, is ignored.
  await conn.sendNotification("rlef/reviewDecision", { runId: "off-1", decision: "accepted" });
  await conn.sendNotification("rlef/reviewDecision", { runId: "on-1", decision: "maybe" });
  assert.equal((await solve("triple.md", "on-2", { attempts: 1 })).outcome, "failed");
  await conn.sendNotification("rlef/reviewDecision", { runId: "on-2", decision: "rejected" });
  assert.equal((await solve("triple.md", "on-3", { continueRunId: "on-2", hint: "mail me: bob@example.com" })).outcome, "failed");
  await settle();

  const lines = logged();
  assert.deepEqual(
    lines.map((l) => [l.type, l.id ?? l.session, l.command ?? l.decision]),
    [
      ["session", "on-1", "solve"],
      ["review", "on-1", "accepted"],
      ["session", "on-2", "solve"],
      ["review", "on-2", "rejected"],
      ["session", "on-3", "one-more-round"],
    ],
  );
  const [first, , second, , third] = lines as unknown as SessionRecord[];
  assert.equal(first.client, "Test Client 9.9");
  assert.equal(first.outcome, "solved");
  assert.deepEqual(first.turns.map((t) => [t.publicPassed, t.reward]), [[false, 0], [true, 1]]);
  assert.match(first.turns[0].feedback ?? "", /4/);
  assert.equal(first.task.kind, "stdio");
  assert.match(first.task.kind === "stdio" ? first.task.statement : "", /Questions to \[redacted email\]/);
  assert.deepEqual([first.trainable, first.redactions.kinds], [false, ["email"]]);
  // The key the editor sent is removed from the task and from every prompt; the task is then not trainable.
  assert.ok(!JSON.stringify(lines).includes(API_KEY));
  assert.match(second.task.kind === "stdio" ? second.task.statement : "", /server key \[redacted/);
  assert.match(second.notTrainableBecause ?? "", /redaction replaced text in the task/);
  assert.deepEqual([third.continues, third.hint], ["on-2", "mail me: [redacted email]"]);

  const status = await command<SessionLogStatus>("rlef.server.sessionLogStatus");
  assert.deepEqual(
    { enabled: status.enabled, folder: status.folder, sessions: status.sessions, trainable: status.trainable, reviews: status.reviews, problems: status.problems },
    { enabled: true, folder: logDir, sessions: 3, trainable: 0, reviews: { accepted: 1, rejected: 1 }, problems: [] },
  );
  assert.ok(status.bytes > 0);
});

test("a clean task is trainable; turning logging off stops it at once; clearing deletes the log files only", async () => {
  writeFileSync(join(workspace, "half.md"), "Halve n.\n\n### Input\n```\n4\n```\n### Output\n```\n2\n```\n");
  await solve("half.md", "on-4", { attempts: 1 });
  await settle();
  const record = logged().at(-1) as unknown as SessionRecord;
  assert.deepEqual([record.id, record.trainable, record.redactions], ["on-4", true, { count: 0, kinds: [] }]);

  await configure({ enabled: false, folder: logDir });
  await settle();
  await solve("half.md", "off-2", { attempts: 1 });
  await conn.sendNotification("rlef/reviewDecision", { runId: "on-4", decision: "accepted" });
  await settle();
  assert.deepEqual(logged().map((l) => l.id ?? l.session), ["on-1", "on-1", "on-2", "on-2", "on-3", "on-4"]);

  writeFileSync(join(logDir, "keep.txt"), "mine");
  assert.deepEqual(await command("rlef.server.clearSessionLog"), { deleted: 1 });
  assert.deepEqual(readdirSync(logDir), ["keep.txt"]);
});

test("a log that cannot be written never fails the run; the reason goes to the server's log", async () => {
  writeFileSync(join(workspace, "blocker"), "");
  await configure({ enabled: true, folder: join(workspace, "blocker", "sessions") });
  await settle();
  assert.equal((await solve("half.md", "on-5", { attempts: 1 })).outcome, "failed");
  assert.ok(logLines.some((l) => /session log: run on-5 not logged: .*ENOTDIR/.test(l)), logLines.join("\n"));
  // A relative folder is a settings error, shown to the user (this client cannot show it: the server's log
  // has it, and the server lives on); the previous settings stay.
  await configure({ enabled: true, folder: "relative/dir" });
  await settle();
  assert.ok(logLines.some((l) => l.includes("setting rlef.sessionLog.folder must be an absolute folder path")), logLines.join("\n"));
  const status = await command<SessionLogStatus>("rlef.server.sessionLogStatus");
  assert.equal(status.folder, join(workspace, "blocker", "sessions"));
  assert.match(status.problems.join(), /cannot read the session log folder .*blocker\/sessions: ENOTDIR/);
});
