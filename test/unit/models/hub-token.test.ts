import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadModel } from "../../../server/models/download-model";
import { hubSettingsFromEnv } from "../../../server/models/hub-settings";
import { modelsCommand } from "../../../server/cli/commands/models";
import { startHubStandin, type RunningHubStandin } from "../../hub-standin/hub-standin";
import { makeFixtureRepo } from "./fixture-repo";

const REPO = "rlef-test/gated-coder";
const TOKEN = "hf_SecretTokenValue1234567890";
let repoFolder: string;
let hub: RunningHubStandin;

before(async () => {
  repoFolder = makeFixtureRepo();
  hub = await startHubStandin({ repos: { [REPO]: { folder: repoFolder } }, token: TOKEN });
});

after(async () => {
  await hub.close();
  rmSync(repoFolder, { recursive: true, force: true });
});

test("HF_TOKEN goes to the Hub as a bearer token and never to the CDN host", async () => {
  hub.requests.length = 0;
  const cacheDir = mkdtempSync(join(tmpdir(), "rlef-models-"));
  await downloadModel({ repo: REPO, cacheDir, hub: hubSettingsFromEnv({ HF_ENDPOINT: hub.endpoint, HF_TOKEN: TOKEN }) });
  const hubRequests = hub.requests.filter((r) => r.host.startsWith("127.0.0.1:"));
  const cdnRequests = hub.requests.filter((r) => r.host.startsWith("127.0.0.2:"));
  assert.ok(hubRequests.length > 0 && cdnRequests.length > 0);
  assert.ok(hubRequests.every((r) => r.authorization === `Bearer ${TOKEN}`));
  assert.ok(cdnRequests.every((r) => r.authorization === undefined), "the signed CDN URL gets no token");
});

test("without a token a gated repository says to set HF_TOKEN", async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), "rlef-models-"));
  await assert.rejects(downloadModel({ repo: REPO, cacheDir, hub: { endpoint: hub.endpoint } }), /HTTP 401.*set HF_TOKEN/);
});

test("a wrong token is reported without printing it, on stdout or stderr", async () => {
  const out: string[] = [];
  const wrong = "hf_WrongTokenDoNotPrint987654321";
  const code = await modelsCommand(["download", REPO, "--cache-dir", mkdtempSync(join(tmpdir(), "rlef-models-"))], {
    stdout: (t) => out.push(t),
    stderr: (t) => out.push(t),
    env: { HF_ENDPOINT: hub.endpoint, HF_TOKEN: wrong },
  });
  assert.equal(code, 1);
  const printed = out.join("");
  assert.match(printed, /check that HF_TOKEN is valid/);
  assert.equal(printed.includes(wrong), false);
});

test("HF_ENDPOINT must be an http(s) URL; trailing slashes are dropped", () => {
  assert.throws(() => hubSettingsFromEnv({ HF_ENDPOINT: "ftp://example" }), /HF_ENDPOINT must be an http\(s\) URL/);
  assert.throws(() => hubSettingsFromEnv({ HF_ENDPOINT: "not a url" }), /HF_ENDPOINT must be an http\(s\) URL/);
  assert.deepEqual(hubSettingsFromEnv({ HF_ENDPOINT: "http://127.0.0.1:9/" }), { endpoint: "http://127.0.0.1:9" });
  assert.deepEqual(hubSettingsFromEnv({}), { endpoint: "https://huggingface.co" });
});
