// The language server over stdio, driven by a plain JSON-RPC client: what any LSP client (Neovim, Helix,
// Emacs) sees. Agent runs are workspace/executeCommand commands with work-done progress.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { MessageConnection } from "vscode-jsonrpc/node";
import { spawnLanguageServer } from "./stdio-server";

let conn: MessageConnection;
let stop: () => Promise<void>;
let workspace: string;
const notifications: { method: string; params: unknown }[] = [];
const progress: unknown[] = [];

const wrong = "```python\nn = int(input())\nprint(n)\n```";
const right = "```python\nn = int(input())\nprint(2 * n)\n```";

before(async () => {
  workspace = mkdtempSync(join(tmpdir(), "rlef-lsp-"));
  writeFileSync(join(workspace, "double.md"), "Double n.\n\n### Input\n```\n4\n```\n### Output\n```\n8\n```\n");
  writeFileSync(join(workspace, "calc.py"), "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n");
  const replay = join(workspace, "replay.json");
  writeFileSync(replay, JSON.stringify({ responses: [wrong, right] }));
  ({ conn, stop } = spawnLanguageServer({ RLEF_REPLAY_POLICY: replay }));
  conn.onNotification((method, params) => {
    notifications.push({ method, params });
  });
  conn.onRequest("window/workDoneProgress/create", () => null);
  conn.onNotification("$/progress", (p) => {
    progress.push(p);
  });
  conn.listen();
  const init = (await conn.sendRequest("initialize", {
    processId: process.pid,
    rootUri: pathToFileURL(workspace).toString(),
    workspaceFolders: [{ uri: pathToFileURL(workspace).toString(), name: "ws" }],
    capabilities: { window: { workDoneProgress: true } },
    initializationOptions: { settings: {} },
  })) as { capabilities: { executeCommandProvider: { commands: string[] }; codeLensProvider: unknown } };
  assert.deepEqual(init.capabilities.executeCommandProvider.commands.sort(), [
    "rlef.server.clearSessionLog",
    "rlef.server.downloadModel",
    "rlef.server.fixUntilTestsPass",
    "rlef.server.listModels",
    "rlef.server.sessionLogStatus",
    "rlef.server.solveProblem",
    "rlef.server.status",
    "rlef.server.stop",
  ]);
  await conn.sendNotification("initialized", {});
});

after(async () => {
  await stop();
  rmSync(workspace, { recursive: true, force: true });
});

test("code lenses mark every function with a fix-until-tests-pass command", async () => {
  const uri = pathToFileURL(join(workspace, "calc.py")).toString();
  await conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "python", version: 1, text: readFileSync(join(workspace, "calc.py"), "utf8") } });
  const lenses = (await conn.sendRequest("textDocument/codeLens", { textDocument: { uri } })) as { range: { start: { line: number } }; command: { command: string; arguments: unknown[] } }[];
  assert.deepEqual(
    lenses.map((l) => [l.range.start.line, l.command.command, l.command.arguments[1]]),
    [
      [0, "rlef.fixUntilTestsPass", 0],
      [4, "rlef.fixUntilTestsPass", 4],
    ],
  );
});

test("solveProblem runs the agent with progress and events, and proposes the solution without writing it", async () => {
  const uri = pathToFileURL(join(workspace, "double.md")).toString();
  const reply = (await conn.sendRequest("workspace/executeCommand", { command: "rlef.server.solveProblem", arguments: [{ uri, runId: "r1" }] })) as {
    outcome: string;
    newText: string;
    originalText: string | null;
    uri: string;
    attempts: number;
    edit: { documentChanges: [{ kind: string; uri: string }, { edits: { newText: string }[] }] };
  };
  assert.equal(reply.outcome, "solved");
  assert.equal(reply.attempts, 2);
  assert.equal(reply.originalText, null);
  assert.equal(reply.newText, "n = int(input())\nprint(2 * n)\n");
  assert.equal(reply.uri, pathToFileURL(join(workspace, "double.py")).toString());
  assert.equal(existsSync(join(workspace, "double.py")), false, "the server never writes the user's files");
  // The same proposal as an LSP workspace edit any client can apply: create the file, insert the text.
  assert.equal(reply.edit.documentChanges[0].kind, "create");
  assert.equal(reply.edit.documentChanges[0].uri, reply.uri);
  assert.equal(reply.edit.documentChanges[1].edits[0].newText, reply.newText);
  const events = notifications.filter((n) => n.method === "rlef/agentEvent").map((n) => (n.params as { runId: string; event: { type: string } }));
  assert.ok(events.every((e) => e.runId === "r1"));
  assert.ok(events.some((e) => e.event.type === "feedback"));
  const messages = progress.map((p) => (p as { value: { message?: string } }).value.message).filter(Boolean);
  assert.ok(messages.includes("attempt 1 of 3: 1 of 1 tests failing"), JSON.stringify(messages));
  assert.ok(messages.includes("attempt 2 of 3: all tests pass"), JSON.stringify(messages));
});

test("bad command arguments are JSON-RPC errors, not crashes", async () => {
  await assert.rejects(conn.sendRequest("workspace/executeCommand", { command: "rlef.server.solveProblem", arguments: [{}] }), /needs \{ uri \}/);
  await assert.rejects(conn.sendRequest("workspace/executeCommand", { command: "rlef.server.solveProblem", arguments: [{ uri: "untitled:x" }] }), /not a file: URI/);
  await assert.rejects(conn.sendRequest("workspace/executeCommand", { command: "rlef.nope", arguments: [] }), /unknown command/);
  const missing = pathToFileURL(join(workspace, "missing.md")).toString();
  await assert.rejects(conn.sendRequest("workspace/executeCommand", { command: "rlef.server.solveProblem", arguments: [{ uri: missing }] }), /ENOENT/);
  const status = (await conn.sendRequest("workspace/executeCommand", { command: "rlef.server.status", arguments: [] })) as { runs: string[] };
  assert.deepEqual(status.runs, []);
});

test("one more round continues a finished run from its last feedback, with the user's hint", async () => {
  const uri = pathToFileURL(join(workspace, "double.md")).toString();
  const first = (await conn.sendRequest("workspace/executeCommand", { command: "rlef.server.solveProblem", arguments: [{ uri, runId: "r2", attempts: 1 }] })) as { outcome: string; attempts: number };
  assert.deepEqual([first.outcome, first.attempts], ["failed", 1]);
  const more = (await conn.sendRequest("workspace/executeCommand", {
    command: "rlef.server.solveProblem",
    arguments: [{ uri, runId: "r3", continueRunId: "r2", hint: "multiply by two" }],
  })) as { outcome: string; attempts: number; newText: string };
  assert.deepEqual([more.outcome, more.attempts, more.newText], ["solved", 1, "n = int(input())\nprint(2 * n)\n"]);
  await assert.rejects(
    conn.sendRequest("workspace/executeCommand", { command: "rlef.server.solveProblem", arguments: [{ uri, runId: "r4", continueRunId: "nope" }] }),
    /run nope is not available any more/,
  );
});
