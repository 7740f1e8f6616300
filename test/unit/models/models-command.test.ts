import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelsCommand } from "../../../server/cli/commands/models";
import { startHubStandin, type RunningHubStandin } from "../../hub-standin/hub-standin";
import { makeFixtureRepo } from "./fixture-repo";

const REPO = "rlef-test/cli-coder";
let repoFolder: string;
let hub: RunningHubStandin;
let cacheDir: string;

before(async () => {
  repoFolder = makeFixtureRepo();
  hub = await startHubStandin({ repos: { [REPO]: { folder: repoFolder } } });
  cacheDir = mkdtempSync(join(tmpdir(), "rlef-models-cli-"));
});

after(async () => {
  await hub.close();
  rmSync(repoFolder, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

async function rlefModels(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await modelsCommand(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: { HF_ENDPOINT: hub.endpoint, XDG_CACHE_HOME: cacheDir } });
  return { code, stdout, stderr };
}

test("download, list, select and remove through the command line", async () => {
  const downloaded = await rlefModels("download", REPO, "--variant", "q4");
  assert.equal(downloaded.code, 0, downloaded.stderr);
  assert.match(downloaded.stdout, /^rlef-test--cli-coder--q4\t.*rlef\/models\/rlef-test--cli-coder--q4\n$/);
  assert.match(downloaded.stderr, /100% /);
  assert.equal((await rlefModels("download", REPO, "--select")).code, 0);

  const listed = await rlefModels("list");
  assert.equal(listed.code, 0);
  assert.match(listed.stdout, /^\* rlef-test--cli-coder\trlef-test\/cli-coder@[0-9a-f]{10}\tfp32\t[\d.]+ KiB\n {2}rlef-test--cli-coder--q4\t.*\tq4\t/);

  assert.equal((await rlefModels("select", "rlef-test--cli-coder--q4")).code, 0);
  assert.match((await rlefModels("list")).stdout, /\* rlef-test--cli-coder--q4/);
  assert.equal((await rlefModels("remove", "rlef-test--cli-coder--q4")).code, 0);
  assert.doesNotMatch((await rlefModels("list")).stdout, /q4/);
});

test("bad arguments print the usage and exit 2; failures exit 1 with the reason", async () => {
  assert.equal((await rlefModels()).code, 2);
  assert.equal((await rlefModels("download")).code, 2);
  assert.equal((await rlefModels("select", "a", "b")).code, 2);
  assert.equal((await rlefModels("frobnicate")).code, 2);
  assert.equal((await rlefModels("list", "--bogus")).code, 2);
  const badVariant = await rlefModels("download", REPO, "--variant", "int3");
  assert.equal(badVariant.code, 1);
  assert.match(badVariant.stderr, /unknown ONNX variant "int3"; choose one of fp32, fp16, quantized, q4/);
  const missing = await rlefModels("select", "nothing-here");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no model named "nothing-here"/);
});
