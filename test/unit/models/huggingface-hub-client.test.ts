// The stand-in must behave like the Hub for the official client too, or our own tests against it
// would prove nothing: huggingface_hub's snapshot_download and hf_hub_download run against it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { REPO_ROOT, venvPython } from "../policy/python-reference";
import { startHubStandin, type RunningHubStandin } from "../../hub-standin/hub-standin";
import { makeFixtureRepo } from "./fixture-repo";

const REPO = "rlef-test/py-coder";
let repoFolder: string;
let hub: RunningHubStandin;
let hfCache: string;

before(async () => {
  repoFolder = makeFixtureRepo();
  // Small tree pages, so the client's Link-header pagination is exercised as well.
  hub = await startHubStandin({ repos: { [REPO]: { folder: repoFolder } }, treePageSize: 3 });
  hfCache = mkdtempSync(join(tmpdir(), "rlef-hf-cache-"));
});

after(async () => {
  await hub.close();
  rmSync(repoFolder, { recursive: true, force: true });
  rmSync(hfCache, { recursive: true, force: true });
});

const SCRIPT = `
import json, os, sys
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
from huggingface_hub import snapshot_download, hf_hub_download
repo, endpoint, cache = sys.argv[1:4]
snapshot = snapshot_download(repo, endpoint=endpoint, cache_dir=cache)
single = hf_hub_download(repo, "onnx/model_q4.onnx", endpoint=endpoint, cache_dir=os.path.join(cache, "single"))
files = {}
for root, _, names in os.walk(snapshot):
    for name in names:
        full = os.path.join(root, name)
        files[os.path.relpath(full, snapshot)] = full
print(json.dumps({"files": files, "single": single, "commit": os.path.basename(snapshot)}))
`;

test("huggingface_hub's snapshot_download and hf_hub_download fetch identical bytes from the stand-in", async () => {
  // Asynchronously: the stand-in answers from this very process.
  const { stdout } = await promisify(execFile)(venvPython(), ["-c", SCRIPT, REPO, hub.endpoint, hfCache], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
  const out = JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
    files: Record<string, string>;
    single: string;
    commit: string;
  };
  assert.equal(out.commit, hub.commit(REPO));
  const listed = hub.files(REPO).map((f) => f.path).sort();
  assert.deepEqual(Object.keys(out.files).sort(), listed);
  for (const path of listed) assert.deepEqual(readFileSync(out.files[path]), readFileSync(join(repoFolder, path)), path);
  assert.deepEqual(readFileSync(out.single), readFileSync(join(repoFolder, "onnx", "model_q4.onnx")));
  // It took the LFS files through the CDN redirect, as it does from the real Hub.
  assert.ok(hub.requests.some((r) => r.method === "HEAD" && r.url.includes("/resolve/")));
  assert.ok(hub.requests.some((r) => r.host.startsWith("127.0.0.2:") && r.method === "GET"));
  assert.ok(hub.requests.filter((r) => r.url.includes("/tree/")).length >= 3, "it followed the tree pages");
});
