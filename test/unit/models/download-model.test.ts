import { after, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadModel, type DownloadProgress } from "../../../server/models/download-model";
import { currentModel, listModels, removeModel, selectModel } from "../../../server/models/model-cache";
import { startHubStandin, type RunningHubStandin } from "../../hub-standin/hub-standin";
import { makeFixtureRepo } from "./fixture-repo";

const REPO = "rlef-test/tiny-coder";
let repoFolder: string;
let hub: RunningHubStandin;
let cacheDir: string;

before(async () => {
  repoFolder = makeFixtureRepo();
  hub = await startHubStandin({ repos: { [REPO]: { folder: repoFolder } } });
});

after(async () => {
  await hub.close();
  rmSync(repoFolder, { recursive: true, force: true });
});

beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), "rlef-models-"));
  hub.requests.length = 0;
  hub.faults.dropAfterBytes = undefined;
  hub.faults.corruptContent = undefined;
  hub.faults.revisionBody = undefined;
  hub.faults.repoCommitHeader = undefined;
});

const settings = () => ({ endpoint: hub.endpoint });

function sameBytes(installed: string, path: string): void {
  assert.deepEqual(readFileSync(join(installed, path)), readFileSync(join(repoFolder, path)), path);
}

test("downloads only the model folder's files of the fp32 variant, byte for byte, with progress", async () => {
  const progress: DownloadProgress[] = [];
  const model = await downloadModel({ repo: REPO, cacheDir, hub: settings(), onProgress: (p) => progress.push(p) });
  assert.equal(model.name, "rlef-test--tiny-coder");
  for (const path of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "onnx/model.onnx"]) {
    sameBytes(model.path, path);
  }
  assert.equal(existsSync(join(model.path, "README.md")), false);
  assert.equal(existsSync(join(model.path, "model.safetensors")), false);
  assert.equal(existsSync(join(model.path, "onnx", "model_q4.onnx")), false);
  assert.equal(model.manifest.commit, hub.commit(REPO));
  const last = progress.at(-1) as DownloadProgress;
  assert.equal(last.bytesDone, last.bytesTotal);
  assert.ok(progress.length > 6, "progress is reported while bytes arrive");
  assert.ok(progress.every((p, i) => i === 0 || p.bytesDone >= progress[i - 1].bytesDone), "progress never goes back");
  // The LFS decoder came through the Hub's redirect to its CDN host, pinned to the commit.
  assert.ok(hub.requests.some((r) => r.url.startsWith(`/${REPO}/resolve/${hub.commit(REPO)}/onnx/model.onnx`)));
  assert.ok(hub.requests.some((r) => r.host.startsWith("127.0.0.2:") && r.url.startsWith("/lfs/")));
  assert.equal(existsSync(`${model.path}.incomplete`), false);
});

test("the q4 variant takes onnx/model_q4.onnx and is cached under its own name", async () => {
  const model = await downloadModel({ repo: REPO, variant: "q4", cacheDir, hub: settings() });
  assert.equal(model.name, "rlef-test--tiny-coder--q4");
  sameBytes(model.path, "onnx/model_q4.onnx");
  assert.equal(existsSync(join(model.path, "onnx", "model.onnx")), false);
});

test("a variant the repository lacks is refused, naming the variants it has", async () => {
  await assert.rejects(downloadModel({ repo: REPO, variant: "quantized", cacheDir, hub: settings() }), /no quantized decoder.*available variants: fp32, q4/);
});

test("a connection dropped halfway through a file is resumed with a Range request", async () => {
  hub.faults.dropAfterBytes = new Map([["onnx/model.onnx", 100_000]]);
  const model = await downloadModel({ repo: REPO, cacheDir, hub: settings() });
  sameBytes(model.path, "onnx/model.onnx");
  const ranged = hub.requests.filter((r) => r.range !== undefined);
  assert.ok(ranged.length >= 1, "a Range request was made");
  assert.match(ranged[0].range as string, /^bytes=\d+-$/);
  assert.ok(Number(/\d+/.exec(ranged[0].range as string)?.[0]) > 0);
});

test("a .part file left by an earlier, killed download is continued, not restarted", async () => {
  const staging = join(cacheDir, "rlef-test--tiny-coder.incomplete");
  mkdirSync(join(staging, "onnx"), { recursive: true });
  writeFileSync(join(staging, ".commit"), hub.commit(REPO));
  writeFileSync(join(staging, "onnx", "model.onnx.part"), readFileSync(join(repoFolder, "onnx", "model.onnx")).subarray(0, 123_456));
  const model = await downloadModel({ repo: REPO, cacheDir, hub: settings() });
  sameBytes(model.path, "onnx/model.onnx");
  assert.ok(hub.requests.some((r) => r.range === "bytes=123456-"));
});

test("an LFS file whose bytes do not match the Hub's sha256 is rejected and not installed", async () => {
  const good = readFileSync(join(repoFolder, "onnx", "model.onnx"));
  const bad = Buffer.from(good);
  bad[1000] ^= 0xff;
  hub.faults.corruptContent = new Map([["onnx/model.onnx", bad]]);
  await assert.rejects(downloadModel({ repo: REPO, cacheDir, hub: settings() }), /model\.onnx: sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\); the file was discarded/);
  assert.equal(existsSync(join(cacheDir, "rlef-test--tiny-coder")), false, "nothing installed");
  const staging = join(cacheDir, "rlef-test--tiny-coder.incomplete", "onnx");
  assert.deepEqual(readdirSync(staging).filter((n) => n.startsWith("model.onnx")), [], "the bad bytes are gone");
  assert.deepEqual(listModels(cacheDir), []);
});

test("a small file whose bytes do not match its git blob id is rejected", async () => {
  const config = readFileSync(join(repoFolder, "config.json"));
  hub.faults.corruptContent = new Map([["config.json", Buffer.from(config.toString().replace("qwen2", "qwen3"))]]);
  await assert.rejects(downloadModel({ repo: REPO, cacheDir, hub: settings() }), /config\.json: git blob sha1 mismatch/);
  assert.equal(existsSync(join(cacheDir, "rlef-test--tiny-coder")), false);
});

test("a file shorter than the Hub lists is rejected with both sizes", async () => {
  const config = readFileSync(join(repoFolder, "config.json"));
  hub.faults.corruptContent = new Map([["config.json", config.subarray(0, 10)]]);
  await assert.rejects(downloadModel({ repo: REPO, cacheDir, hub: settings() }), /config\.json.*(10 bytes|ended at byte 10)/);
});

test("list, select and remove manage the installed models and the current pointer", async () => {
  const fp32 = await downloadModel({ repo: REPO, cacheDir, hub: settings() });
  const q4 = await downloadModel({ repo: REPO, variant: "q4", cacheDir, hub: settings() });
  assert.equal(currentModel(cacheDir), undefined);
  assert.deepEqual(listModels(cacheDir).map((m) => [m.name, m.current]), [[fp32.name, false], [q4.name, false]]);
  selectModel(cacheDir, q4.name);
  assert.equal(currentModel(cacheDir)?.path, q4.path);
  assert.deepEqual(listModels(cacheDir).map((m) => m.current), [false, true]);
  assert.ok(listModels(cacheDir)[1].sizeBytes > 90 * 1024);
  removeModel(cacheDir, fp32.name);
  assert.deepEqual(listModels(cacheDir).map((m) => m.name), [q4.name]);
  assert.equal(currentModel(cacheDir)?.name, q4.name);
  removeModel(cacheDir, q4.name);
  assert.equal(currentModel(cacheDir), undefined, "removing the current model clears the pointer");
  assert.deepEqual(listModels(cacheDir), []);
});

test("select and remove refuse unknown names and names that reach outside the cache", () => {
  assert.throws(() => selectModel(cacheDir, "nobody--nothing"), /no model named "nobody--nothing"/);
  for (const hostile of ["../etc", "..", "a/b", "/tmp", ""]) {
    assert.throws(() => removeModel(cacheDir, hostile), /is not a model name/, hostile);
  }
});

test("a pointer to a model that was deleted by hand is reported, not followed", async () => {
  const model = await downloadModel({ repo: REPO, cacheDir, hub: settings() });
  selectModel(cacheDir, model.name);
  rmSync(model.path, { recursive: true });
  assert.throws(() => currentModel(cacheDir), /selected model "rlef-test--tiny-coder" is no longer/);
});

test("malformed listings from the Hub fail with the field named", async () => {
  const cases: [string, RegExp][] = [
    ["<html>gateway</html>", /is not JSON/],
    ["[]", /is not a JSON object/],
    [JSON.stringify({ sha: "abc", siblings: [] }), /'sha' must be 40 hex digits/],
    [JSON.stringify({ sha: "a".repeat(40) }), /no 'siblings' array/],
    [JSON.stringify({ sha: "a".repeat(40), siblings: [{ rfilename: "config.json", size: "12", blobId: "b".repeat(40) }] }), /siblings\[0\]\.size must be a byte count, got "12"/],
    [JSON.stringify({ sha: "a".repeat(40), siblings: [{ rfilename: "config.json" }] }), /revision not found on the Hub: rlef-test\/tiny-coder@a{40} \(tree\)/],
    [JSON.stringify({ sha: "a".repeat(40), siblings: [{ rfilename: "x.onnx", size: 3, blobId: "b".repeat(40), lfs: { sha256: "zz", size: 3 } }] }), /siblings\[0\]\.lfs\.sha256 must be 64 hex digits/],
    [JSON.stringify({ sha: "a".repeat(40), siblings: [{ rfilename: "../../etc/passwd", size: 3, blobId: "b".repeat(40) }] }), /unsafe file path "..\/..\/etc\/passwd"/],
    [JSON.stringify({ sha: "a".repeat(40), siblings: [{ rfilename: "onnx/model.onnx", size: 3, blobId: "b".repeat(40) }] }), /not an ONNX model repository: it has no config.json, tokenizer.json, tokenizer_config.json/],
  ];
  for (const [body, expected] of cases) {
    hub.faults.revisionBody = body;
    await assert.rejects(downloadModel({ repo: REPO, cacheDir, hub: settings() }), expected, body);
  }
  assert.deepEqual(readdirSync(cacheDir), [], "nothing written for a bad listing");
});

test("unknown repositories, revisions and malformed ids are clear errors", async () => {
  await assert.rejects(downloadModel({ repo: "rlef-test/missing", cacheDir, hub: settings() }), /model repository not found on the Hub: rlef-test\/missing@main/);
  await assert.rejects(downloadModel({ repo: REPO, revision: "v9", cacheDir, hub: settings() }), /revision not found on the Hub: rlef-test\/tiny-coder@v9/);
  await assert.rejects(downloadModel({ repo: "../x", cacheDir, hub: settings() }), /is not a Hub model id/);
  await assert.rejects(downloadModel({ repo: "only-a-name", cacheDir, hub: settings() }), /expected "owner\/name"/);
});

test("an unreachable endpoint names the URL", async () => {
  await assert.rejects(downloadModel({ repo: REPO, cacheDir, hub: { endpoint: "http://127.0.0.1:1" } }), /cannot reach the Hub at http:\/\/127\.0\.0\.1:1\/api\/models\/rlef-test\/tiny-coder\/revision\/main/);
});

test("a file served from another commit than the listing's is refused", async () => {
  hub.faults.repoCommitHeader = "f".repeat(40);
  await assert.rejects(downloadModel({ repo: REPO, cacheDir, hub: settings() }), /is served from commit f{40}, not the listed [0-9a-f]{40}/);
  assert.deepEqual(listModels(cacheDir), []);
});

test("a listing served without blob metadata is completed from the tree API", async () => {
  const bare = await fetch(`${hub.endpoint}/api/models/${REPO}/revision/main`);
  hub.faults.revisionBody = await bare.text();
  const model = await downloadModel({ repo: REPO, cacheDir, hub: settings() });
  sameBytes(model.path, "onnx/model.onnx");
  sameBytes(model.path, "config.json");
  assert.ok(hub.requests.some((r) => r.url === `/api/models/${REPO}/tree/${hub.commit(REPO)}?recursive=true`));
});

test("a tree listing split over linked pages is read to the end", async () => {
  const paged = await startHubStandin({ repos: { [REPO]: { folder: repoFolder } }, treePageSize: 2 });
  try {
    const bare = await fetch(`${paged.endpoint}/api/models/${REPO}/revision/main`);
    paged.faults.revisionBody = await bare.text();
    const model = await downloadModel({ repo: REPO, cacheDir, hub: { endpoint: paged.endpoint } });
    for (const path of ["config.json", "tokenizer.json", "chat_template.jinja", "onnx/model.onnx"]) sameBytes(model.path, path);
    assert.ok(paged.requests.filter((r) => r.url.includes("/tree/")).length >= 5, "every page was fetched");
  } finally {
    await paged.close();
  }
});

test("a second download of the same model while one runs is refused; a lock left by a dead process is taken over", async () => {
  const lock = join(cacheDir, "rlef-test--tiny-coder.lock");
  writeFileSync(lock, String(process.pid));
  await assert.rejects(downloadModel({ repo: REPO, cacheDir, hub: settings() }), new RegExp(`another download of rlef-test/tiny-coder \\(fp32\\) is in progress \\(process ${process.pid}\\)`));
  const exited = spawnSync(process.execPath, ["-e", ""]).pid as number;
  writeFileSync(lock, String(exited));
  const model = await downloadModel({ repo: REPO, cacheDir, hub: settings() });
  sameBytes(model.path, "onnx/model.onnx");
  assert.equal(existsSync(lock), false, "the lock is released");
});
