// `rlef env serve` as a real process: prints where it listens and its token, serves, stops on SIGTERM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { TestClient } from "./ws-client";

const ENTRY = "require('./server/cli/commands/env-serve.ts').envServeCommand(process.argv.slice(1)).then((c) => process.exit(c))";

function runCli(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "-e", ENTRY, "--", ...args], { encoding: "utf8", timeout: 60_000 });
}

/** Starts the service with `args`; resolves once it has printed where it listens, its token and its isolation. */
async function startService(args: string[], stdin: "ignore" | "pipe") {
  const child = spawn(process.execPath, ["--import", "tsx", "-e", ENTRY, "--", ...args], { stdio: [stdin, "pipe", "pipe"] });
  const started = { child, out: "" };
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => (started.out += d));
  const deadline = Date.now() + 60_000;
  while (!/isolation: .+\n/.test(started.out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the service did not start: ${started.out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return started;
}

test("bad arguments exit 2 with the reason and the usage", () => {
  for (const args of [["--port", "70000"], ["--bogus"], ["--token", "short"]]) {
    const r = runCli(args);
    assert.equal(r.status, 2, args.join(" "));
    assert.match(r.stderr, /rlef env serve: /);
  }
  const help = runCli(["--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: rlef env serve/);
});

test("serves on loopback with the printed token and shuts down cleanly on SIGTERM", async () => {
  const token = "0123456789abcdef-test-token";
  const started = await startService(["--token", token, "--workers", "1"], "ignore");
  const { child, out } = started;
  const url = /listening on (ws:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  assert.ok(url, out);
  assert.match(out, new RegExp(`token: ${token}\\n`));
  const c = await TestClient.connect(url);
  const hello = await c.request({ type: "hello", protocolVersion: 1, token });
  assert.equal(hello.protocolVersion, 1);
  c.close();
  child.kill("SIGTERM");
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
  assert.match(started.out, /shutting down \(SIGTERM\)/);
});

test("with --exit-with-stdin it also shuts down when its standard input closes (its parent is gone)", async () => {
  const started = await startService(["--workers", "1", "--exit-with-stdin"], "pipe");
  const { child } = started;
  child.stdin!.write("anything written is ignored\n");
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(child.exitCode, null, "input alone does not stop it");
  child.stdin!.end();
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
  assert.match(started.out, /shutting down \(standard input closed\)/);
});

test("without --exit-with-stdin a closed standard input does not stop it", async () => {
  const started = await startService(["--workers", "1"], "pipe");
  const { child } = started;
  child.stdin!.end();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(child.exitCode, null, "still serving");
  child.kill("SIGTERM");
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
  assert.match(started.out, /shutting down \(SIGTERM\)/);
});
