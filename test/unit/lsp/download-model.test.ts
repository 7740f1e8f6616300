// "RLEF: Download Model" through the language server: the server downloads from a Hub (here the local
// stand-in, via HF_ENDPOINT) into the editor's storage with work-done progress, and lists it afterwards.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { MessageConnection } from "vscode-jsonrpc/node";
import { startHubStandin, type RunningHubStandin } from "../../hub-standin/hub-standin";
import { spawnLanguageServer } from "./stdio-server";

const ROOT = resolve(__dirname, "..", "..", "..");
const DEMO = join(ROOT, "models", "demo");
let hub: RunningHubStandin;
let conn: MessageConnection;
let stop: () => Promise<void>;
let cache: string;
const progress: { value: { kind: string; message?: string; percentage?: number } }[] = [];

before(async () => {
  assert.ok(existsSync(join(DEMO, "onnx", "model.onnx")), `the demo model is missing from ${DEMO}: run bash .ci/install`);
  hub = await startHubStandin({ repos: { "test-org/tiny-coder": { folder: DEMO } } });
  cache = mkdtempSync(join(tmpdir(), "rlef-lsp-models-"));
  ({ conn, stop } = spawnLanguageServer({ HF_ENDPOINT: hub.endpoint, HF_TOKEN: "" }));
  conn.onRequest("window/workDoneProgress/create", () => null);
  conn.onNotification("$/progress", (p) => {
    progress.push(p as (typeof progress)[number]);
  });
  conn.listen();
  await conn.sendRequest("initialize", { processId: process.pid, rootUri: null, capabilities: { window: { workDoneProgress: true } }, initializationOptions: { modelCacheDir: cache } });
  await conn.sendNotification("initialized", {});
});

after(async () => {
  await stop();
  await hub.close();
  rmSync(cache, { recursive: true, force: true });
});

test("downloadModel fetches the repository into the editor's model cache, with progress, and listModels shows it", async () => {
  const installed = (await conn.sendRequest("workspace/executeCommand", { command: "rlef.server.downloadModel", arguments: [{ repo: "test-org/tiny-coder", variant: "fp32" }] })) as {
    name: string;
    path: string;
    sizeBytes: number;
  };
  assert.equal(installed.name, "test-org--tiny-coder");
  assert.ok(installed.path.startsWith(cache));
  assert.ok(existsSync(join(installed.path, "onnx", "model.onnx")));
  assert.ok(progress.some((p) => p.value.kind === "begin"));
  assert.ok(progress.some((p) => p.value.kind === "report" && /model\.onnx/.test(p.value.message ?? "")));
  assert.ok(progress.some((p) => p.value.kind === "end"));
  const listed = (await conn.sendRequest("workspace/executeCommand", { command: "rlef.server.listModels", arguments: [] })) as { name: string }[];
  assert.deepEqual(
    listed.map((m) => m.name),
    ["test-org--tiny-coder"],
  );
});

test("a malformed or unknown repository is a clear error and installs nothing", async () => {
  await assert.rejects(conn.sendRequest("workspace/executeCommand", { command: "rlef.server.downloadModel", arguments: [{}] }), /needs \{ repo \}/);
  await assert.rejects(conn.sendRequest("workspace/executeCommand", { command: "rlef.server.downloadModel", arguments: [{ repo: "test-org/nope" }] }), /nope/);
  const listed = (await conn.sendRequest("workspace/executeCommand", { command: "rlef.server.listModels", arguments: [] })) as unknown[];
  assert.equal(listed.length, 1);
});
