// The hot swap: a model folder replaced in place (what `rlef-train export --out` does: a checked export renamed
// over the old one) is loaded again before the next run, without restarting anything; an untouched folder is not.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, renameSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AgentSession } from "../../../server/agent/session";
import { makePolicyLoader, modelFolderStamp } from "../../../server/agent/policy-loader";
import { DEFAULT_SETTINGS, type ServerSettings } from "../../../server/lsp/settings";

const ROOT = resolve(__dirname, "..", "..", "..");
let dir: string;
let model: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "rlef-hot-swap-"));
  model = join(dir, "tuned");
  cpSync(join(ROOT, "models", "demo"), model, { recursive: true });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("a model folder replaced in place is loaded again before the next run; an untouched one is kept", async () => {
  assert.equal(process.env.RLEF_REPLAY_POLICY, undefined);
  const settings: ServerSettings = { ...DEFAULT_SETTINGS, policy: { ...DEFAULT_SETTINGS.policy, backend: "onnx", modelPath: model, threads: 1 } };
  let changes = 0;
  const session = new AgentSession(settings, makePolicyLoader({ root: ROOT }), () => changes++);
  try {
    const first = await session.policy();
    assert.equal(await session.policy(), first, "the same files: the same loaded policy");
    assert.equal(changes, 0);

    // A new export beside it, renamed into place over the old folder.
    cpSync(join(ROOT, "models", "demo"), join(dir, "tuned.new"), { recursive: true });
    renameSync(model, join(dir, "tuned.old"));
    renameSync(join(dir, "tuned.new"), model);
    const swapped = await session.policy();
    assert.notEqual(swapped, first);
    assert.equal(changes, 1);
    const ids = await swapped.encodeChat([{ role: "user", content: "hello" }]);
    assert.ok(ids.length > 0, "the new policy works");
    assert.equal(await session.policy(), swapped);

    // A file rewritten in place (same inode, new time) counts too.
    const later = new Date(Date.now() + 5000);
    utimesSync(join(model, "onnx", "model.onnx"), later, later);
    assert.notEqual(await session.policy(), swapped);
    assert.equal(changes, 2);
  } finally {
    await session.dispose();
  }
});

test("the stamp names every file of the folder's root and onnx/, and says when the folder is gone", () => {
  const stamp = modelFolderStamp(model);
  for (const name of ["config.json", "tokenizer.json", "onnx/model.onnx"]) assert.ok(stamp.includes(`/${name}:`), name);
  assert.match(modelFolderStamp(join(dir, "nothing")), /nothing: missing/);
});
