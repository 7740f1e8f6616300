import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveCommand } from "../../../server/cli/commands/serve";
import { tinyModelFolder } from "../policy/python-reference";

function capture(env: NodeJS.ProcessEnv = {}) {
  const io = { out: "", err: "" };
  return { io, options: { stdout: (t: string) => (io.out += t), stderr: (t: string) => (io.err += t), env } };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

test("rlef serve --model DIR serves until stopped, printing its URL", async () => {
  const stop = new AbortController();
  const { io, options } = capture({ RLEF_SERVE_API_KEY: "sk-cli" });
  const exit = serveCommand(["--model", tinyModelFolder(), "--port", "0", "--threads", "1", "--served-model-name", "coder", "--max-model-len", "512"], { ...options, stop: stop.signal });
  await until(() => io.out.includes("serving"));
  const url = /at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(io.out)?.[1] as string;
  const unauthorised = await fetch(`${url}/models`);
  assert.equal(unauthorised.status, 401);
  const models = (await (await fetch(`${url}/models`, { headers: { Authorization: "Bearer sk-cli" } })).json()) as { data: { id: string; max_model_len: number }[] };
  assert.deepEqual(models.data.map((m) => [m.id, m.max_model_len]), [["coder", 512]]);
  stop.abort();
  assert.equal(await exit, 0);
  assert.match(io.err, /GET \/v1\/models 200/);
  assert.equal(io.err.includes("sk-cli"), false);
  await assert.rejects(fetch(`${url}/models`), "the port is closed after the stop");
});

test("bad options exit 2; an unusable model exits 1 with the reason", async () => {
  const cases: [string[], number, RegExp][] = [
    [["--bogus"], 2, /Unknown option '--bogus'/],
    [["--port", "http"], 1, /--port must be an integer in \[0, 65535\], got "http"/],
    [["--port", "70000"], 1, /--port must be an integer/],
    [["--threads", "0", "--model", "x"], 1, /--threads must be an integer in \[1, 1024\]/],
    [["--variant", "int2", "--model", "x"], 1, /unknown ONNX variant "int2"/],
    [["--model", "/no/such/folder"], 1, /--model \/no\/such\/folder: no such folder/],
  ];
  for (const [argv, code, message] of cases) {
    const { io, options } = capture({ XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "rlef-serve-")) });
    assert.equal(await serveCommand(argv, { ...options, stop: AbortSignal.abort() }), code, argv.join(" "));
    assert.match(io.err, message);
  }
});

test("without --model and with no model selected, it says how to get one", async () => {
  const { io, options } = capture({ XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "rlef-serve-")) });
  assert.equal(await serveCommand([], { ...options, stop: AbortSignal.abort() }), 1);
  assert.match(io.err, /no model given and none selected; pass --model DIR or run 'rlef models download <repo> --select'/);
});

test("--model NAME serves a model from the cache by its name", async () => {
  const { io, options } = capture({ XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "rlef-serve-")) });
  assert.equal(await serveCommand(["--model", "owner--missing"], { ...options, stop: AbortSignal.abort() }), 1);
  assert.match(io.err, /no model named "owner--missing"/);
});
