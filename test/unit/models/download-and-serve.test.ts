// The whole path a user takes: download the tiny ONNX model from the (stand-in) Hub, select it,
// and `rlef serve` it with no --model; the served model answers a chat completion.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelsCommand } from "../../../server/cli/commands/models";
import { serveCommand } from "../../../server/cli/commands/serve";
import { startHubStandin, type RunningHubStandin } from "../../hub-standin/hub-standin";
import { tinyModelFolder } from "../policy/python-reference";

let hub: RunningHubStandin;
let cacheHome: string;

before(async () => {
  hub = await startHubStandin({ repos: { "rlef-test/tiny": { folder: tinyModelFolder() } } });
  cacheHome = mkdtempSync(join(tmpdir(), "rlef-cache-home-"));
});

after(async () => {
  await hub.close();
  rmSync(cacheHome, { recursive: true, force: true });
});

test("a model downloaded and selected with 'rlef models' is what 'rlef serve' serves", async () => {
  const env = { HF_ENDPOINT: hub.endpoint, XDG_CACHE_HOME: cacheHome };
  let err = "";
  const downloaded = await modelsCommand(["download", "rlef-test/tiny", "--select"], { stdout: () => undefined, stderr: (t) => (err += t), env });
  assert.equal(downloaded, 0, err);

  let out = "";
  const stop = new AbortController();
  const exit = serveCommand(["--port", "0", "--threads", "1"], { stdout: (t) => (out += t), stderr: () => undefined, env, stop: stop.signal });
  while (!out.includes("serving")) await new Promise((resolve) => setTimeout(resolve, 20));
  const url = /at (\S+)\n/.exec(out)?.[1] as string;
  assert.match(out, /^serving rlef-test--tiny at http:\/\/127\.0\.0\.1:\d+\/v1\n$/);
  const response = await fetch(`${url}/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: "rlef-test--tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4, temperature: 0 }),
  });
  const completion = (await response.json()) as { usage: { completion_tokens: number } };
  assert.equal(response.status, 200);
  assert.ok(completion.usage.completion_tokens >= 1 && completion.usage.completion_tokens <= 4);
  stop.abort();
  assert.equal(await exit, 0);
});
