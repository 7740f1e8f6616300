// `rlef solve --log` and `rlef sessions`: the session log from the command line, as a user runs them.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "..", "..", "..");
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "rlef-cli-log-"));
  writeFileSync(join(dir, "replay.json"), JSON.stringify({ responses: ["```python\nprint(int(input()))\n```", "```python\nprint(2 * int(input()))\n```"] }));
  writeFileSync(join(dir, "double.md"), "Double n.\n\n### Input\n```\n4\n```\n### Output\n```\n8\n```\n");
});
after(() => rmSync(dir, { recursive: true, force: true }));

function rlef(...args: string[]) {
  const consent = args[0] === "solve" && spawnSync("sh", ["-c", "command -v bwrap"]).status !== 0 ? ["--allow-unisolated"] : [];
  return spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "server", "cli", "main.ts"), ...args, ...consent], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, RLEF_REPLAY_POLICY: join(dir, "replay.json"), XDG_STATE_HOME: join(dir, "state") },
  });
}

test("without --log nothing is logged; with it the run is appended where the editor and the trainer look", () => {
  const plain = rlef("solve", join(dir, "double.md"), "--json");
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(existsSync(join(dir, "state")), false);

  const logged = rlef("solve", join(dir, "double.md"), "--json", "--log");
  assert.equal(logged.status, 0, logged.stderr);
  const folder = join(dir, "state", "rlef", "sessions");
  assert.match(logged.stderr, new RegExp(`logged to ${folder} as [0-9a-f-]{36}\\n$`));
  const [file] = readdirSync(folder);
  const record = JSON.parse(readFileSync(join(folder, file), "utf8"));
  assert.deepEqual([record.type, record.command, record.client, record.outcome, record.trainable, record.turns.length], ["session", "solve", "rlef cli", "solved", true, 2]);

  const status = rlef("sessions");
  assert.equal(status.status, 0, status.stderr);
  assert.equal(status.stdout.split("\n").slice(1, 4).join("\n"), "1 session(s): 1 solved (1 solve)\nreviews: 0 accepted, 0 rejected\n1 trainable (rlef-train sessions lists their distinct tasks)");
});

test("--log-dir, a damaged line, --json and clear --yes", () => {
  const other = join(dir, "other");
  assert.equal(rlef("solve", join(dir, "double.md"), "--json", "--log", "--log-dir", other, "--attempts", "1").status, 0);
  const [file] = readdirSync(other);
  appendFileSync(join(other, file), "{not json\n");
  const json = rlef("sessions", "--dir", other, "--json");
  assert.equal(json.status, 0, json.stderr);
  const summary = JSON.parse(json.stdout);
  assert.deepEqual([summary.sessions, summary.outcomes, summary.trainable], [1, { failed: 1 }, 1]);
  assert.match(summary.problems[0], new RegExp(`${file}:2: not JSON`));

  const refused = rlef("sessions", "clear", "--dir", other);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /add --yes to delete the session log in/);
  assert.equal(readdirSync(other).length, 1);
  const cleared = rlef("sessions", "clear", "--yes", "--dir", other);
  assert.equal(cleared.status, 0, cleared.stderr);
  assert.equal(cleared.stdout, `deleted 1 log file(s) in ${other}\n`);
  assert.deepEqual(readdirSync(other), []);
});

test("hostile arguments: one line, exit 2, nothing written", () => {
  const noLog = rlef("solve", join(dir, "double.md"), "--log-dir", join(dir, "x"));
  assert.equal(noLog.status, 2);
  assert.match(noLog.stderr, /--log-dir needs --log/);
  assert.equal(existsSync(join(dir, "x")), false);
  const action = rlef("sessions", "delete");
  assert.equal(action.status, 2);
  assert.match(action.stderr, /unknown action "delete"/);
  writeFileSync(join(dir, "plain-file"), "");
  const notDir = rlef("sessions", "--dir", join(dir, "plain-file"));
  assert.equal(notDir.status, 2);
  assert.match(notDir.stderr, /^rlef sessions: cannot read the session log folder .*plain-file: ENOTDIR/);
  // A log folder that cannot be made: the run's result stands, and the exit code says it was not logged.
  const unloggable = rlef("solve", join(dir, "double.md"), "--json", "--log", "--log-dir", join(dir, "plain-file", "log"));
  assert.equal(unloggable.status, 1);
  assert.match(unloggable.stderr, /the run was not logged: .*ENOTDIR/);
  assert.equal(JSON.parse(unloggable.stdout).outcome, "solved");
});
