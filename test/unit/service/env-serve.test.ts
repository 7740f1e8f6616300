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
  const child = spawn(process.execPath, ["--import", "tsx", "-e", ENTRY, "--", "--token", token, "--workers", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (out += d));
  const deadline = Date.now() + 60_000;
  while (!/token: .+\n/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the service did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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
  assert.match(out, /shutting down/);
});
