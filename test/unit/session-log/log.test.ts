// The session log: its schema (the same cases the Python reader is held to), redaction, and the writer and
// reader on a real folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseSessionLogLine, type SessionRecord } from "../../../server/session-log/record";
import { makeRedactor, type RedactionCounter } from "../../../server/session-log/redact";
import { clearSessionLog, defaultSessionLogDir, readSessionLog, SessionLogWriter, sessionRecordOf, type SessionInput } from "../../../server/session-log/log";
import type { Trajectory, TurnRecord } from "../../../server/agent/agent";
import type { StdioTask, WorkspaceTask } from "../../../server/env/types";
import { SCHEMA_FILE, schemaFileText } from "../../../scripts/session-log-schema";

const ROOT = resolve(__dirname, "..", "..", "..");
const cases = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "session-log", "cases.json"), "utf8")) as { valid: unknown[]; invalid: { why: string; line: unknown }[] };

test("every valid line of the shared cases is accepted and every invalid one refused, naming the field", () => {
  for (const line of cases.valid) parseSessionLogLine(line);
  for (const { why, line } of cases.invalid) assert.throws(() => parseSessionLogLine(line), /^RecordError: line/, why);
  assert.throws(() => parseSessionLogLine({ ...(cases.valid[3] as object), extra: 1 }), /line has an unknown field "extra"/);
  assert.throws(() => parseSessionLogLine({ ...(cases.valid[3] as object), version: 7 }), /version 7, newer than this version of RLEF reads \(1\); update RLEF/);
});

test("the trainer's copy of the schema is the one record.ts defines", () => {
  assert.equal(readFileSync(SCHEMA_FILE, "utf8"), schemaFileText(), "run: node --import tsx scripts/session-log-schema.ts");
});

function redact(text: string, options = {}): { out: string; counter: RedactionCounter } {
  const counter: RedactionCounter = { count: 0, kinds: new Set() };
  const out = makeRedactor({ home: "/home/alice", userName: "alice", ...options })(text, counter);
  return { out, counter };
}

test("redaction replaces credentials, keys, e-mail addresses and the home folder, and counts them by kind", () => {
  const cases: [string, string, string][] = [
    ['OPENAI_API_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"', 'OPENAI_API_KEY = "[redacted]"', "secret-assignment"],
    ["key sk-abcdefghijklmnopqrstuvwx123 here", "key [redacted api key] here", "api-key"],
    ["token ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "token [redacted api key]", "api-key"],
    ["aws AKIAIOSFODNN7EXAMPLE", "aws [redacted api key]", "api-key"],
    ["hf_abcdefghijklmnopqrstuvwxyzABCDEF1234", "[redacted api key]", "api-key"],
    ["Authorization: Bearer abc.def-ghi_jkl~mno+pqr/stu=", "Authorization: Bearer [redacted]", "bearer-token"],
    ["git clone https://bob:hunter22@example.com/repo.git", "git clone https://[redacted]@example.com/repo.git", "url-credentials"],
    ['config = {"password": "correct horse"}', 'config = {"password": "[redacted]"}', "secret-assignment"],
    ["mail alice.smith+x@mail.example.org now", "mail [redacted email] now", "email"],
    ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\nrest", "[redacted private key]\nrest", "private-key"],
    ["-----BEGIN RSA PRIVATE KEY-----\nMIIEow (cut off)", "[redacted private key]", "private-key"],
    ['File "/home/alice/proj/x.py", line 3', 'File "~/proj/x.py", line 3', "home-path"],
    ["/srv/build/home/alice/x and /Users/alice/y", "/srv/build~/x and /Users/[user]/y", "home-path"],
  ];
  for (const [input, expected, kind] of cases) {
    const { out, counter } = redact(input);
    assert.equal(out, expected, input);
    assert.ok(counter.kinds.has(kind), `${input}: ${[...counter.kinds]}`);
  }
  // A longer name that only starts with the home folder is someone else's.
  assert.equal(redact("/home/alice2/x and /home/alice-old").out, "/home/alice2/x and /home/alice-old");
  // A known secret (the endpoint's API key) goes wherever it appears, whatever its form.
  assert.equal(redact("key=local-key-1234!", { secrets: ["local-key-1234!"] }).out, "key=[redacted]");
  // Ordinary code is left alone.
  const code = "def f(password_length):\n    return 'x' * password_length  # sk-short\nprint(a@b)\n";
  assert.deepEqual(redact(code), { out: code, counter: { count: 0, kinds: new Set() } });
});

const task: StdioTask = {
  kind: "stdio",
  id: "double.md",
  set: "user",
  language: "python",
  statement: "Double n.",
  publicTests: [{ input: "4\n", output: "8\n" }],
  privateTests: [],
  checker: { mode: "tokens" },
  limits: { timeMs: 10_000, memoryBytes: 1024 ** 3 },
};

function turn(n: number, response: string, passed: boolean, feedback?: string): TurnRecord {
  const code = response.replace(/^```python\n|\n```$/g, "");
  return {
    turn: n,
    prompt: [{ role: "user", content: "Double n. Mail me at alice@example.com" }],
    response,
    promptTokenIds: [1, 2],
    completionTokenIds: [3],
    completionLogprobs: [0],
    finishReason: "stop",
    code,
    invalid: false,
    results: [{ index: 0, visibility: "public", outcome: passed ? "passed" : "wrong_answer", input: "4\n", expected: "8\n", actual: "4\n", durationMs: 3 }],
    publicPassed: passed,
    ...(feedback ? { feedback } : {}),
    reward: passed ? 1 : 0,
    timings: { generationMs: 1, testMs: 1, overheadMs: 0 },
    tokens: { prompt: 2, completion: 1 },
  };
}

function trajectory(turns: TurnRecord[]): Trajectory {
  return { version: 1, taskId: task.id, policy: "replay", turns, outcome: "solved", totalReward: 1, startedAt: "2026-11-28T07:00:00.000Z", wallMs: 12 };
}

const input = (over: Partial<SessionInput> = {}): SessionInput => ({
  id: "run-1",
  command: "solve",
  client: "test",
  task,
  trajectory: trajectory([turn(1, "```python\nprint(4)\n```", false, "failed: expected 8, got 4 (see /home/alice/x)"), turn(2, "```python\nprint(8)\n```", true)]),
  ...over,
});

test("a run's record keeps what the trainer needs, redacted, and says when its task may not be trained on", () => {
  const record = sessionRecordOf(input(), { home: "/home/alice", userName: "alice" });
  assert.equal(record.trainable, true);
  assert.deepEqual(record.task, task);
  assert.equal(record.prompt[0].content, "Double n. Mail me at [redacted email]");
  assert.equal(record.turns[0].feedback, "failed: expected 8, got 4 (see ~/x)");
  assert.deepEqual(record.turns[0].results, [{ visibility: "public", outcome: "wrong_answer" }]);
  assert.deepEqual(record.redactions, { count: 2, kinds: ["email", "home-path"] });
  assert.equal(record.turns.length, 2);
  parseSessionLogLine(record);

  const secretTask = sessionRecordOf(input({ task: { ...task, statement: "Use token hf_abcdefghijklmnopqrstuvwxyzABCDEF1234" } }), {});
  assert.equal(secretTask.trainable, false);
  assert.match(secretTask.notTrainableBecause ?? "", /redaction replaced text in the task \(api-key\)/);
  assert.equal(secretTask.task.kind === "stdio" && secretTask.task.statement, "Use token [redacted api key]");

  const workspace: WorkspaceTask = { kind: "workspace", id: "calc.py", set: "workspace", language: "python", root: "/home/alice/calc", target: { file: "calc.py" }, runner: "pytest", command: ["pytest"], limits: task.limits };
  const fix = sessionRecordOf(input({ task: workspace, command: "fix" }), { home: "/home/alice" });
  assert.equal(fix.trainable, false);
  assert.match(fix.notTrainableBecause ?? "", /workspace task is logged without the workspace's files/);
  assert.equal(fix.task.kind === "workspace" && fix.task.root, "~/calc");
  parseSessionLogLine(fix);

  assert.match(sessionRecordOf(input({ task: { ...task, publicTests: [] } })).notTrainableBecause ?? "", /no public tests/);
  assert.match(sessionRecordOf(input({ task: { ...task, set: "humaneval" } })).notTrainableBecause ?? "", /a task of the built-in set humaneval: train on the set itself/);
  assert.throws(() => sessionRecordOf(input({ trajectory: trajectory([]) })), /made no attempt/);
});

test("the writer appends checked lines to a private monthly file; the reader reports bad lines by file and line and keeps the rest", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "rlef-log-")), "nested", "sessions");
  try {
    let now = new Date("2026-11-30T23:59:59Z");
    const writer = new SessionLogWriter(dir, { now: () => now, redaction: { home: "/home/alice" } });
    await Promise.all([writer.writeSession(input({ id: "a" })), writer.writeReview("a", "accepted"), writer.writeSession(input({ id: "b", command: "one-more-round", continues: "a", hint: "double it" }))]);
    now = new Date("2026-12-01T00:00:01Z");
    await writer.writeReview("b", "rejected");
    assert.deepEqual(readdirSync(dir), ["sessions-2026-11.jsonl", "sessions-2026-12.jsonl"]);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, "sessions-2026-11.jsonl")).mode & 0o777, 0o600);
    const november = readFileSync(join(dir, "sessions-2026-11.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; id?: string });
    assert.deepEqual(november.map((l) => [l.type, l.id]), [["session", "a"], ["review", undefined], ["session", "b"]]);

    // Damage: a bad JSON line, a line of a newer version, a schema failure, a blank line, a file of another name.
    appendFileSync(join(dir, "sessions-2026-11.jsonl"), '{"type": "session", oops\n\n{"type":"review","version":2}\n{"type":"review","version":1,"session":"a","decision":"undone","at":"2026-11-30T00:00:00Z"}\n');
    writeFileSync(join(dir, "notes.txt"), "not a log");
    mkdirSync(join(dir, "sessions-2026-10.jsonl.bak"));
    const log = await readSessionLog(dir);
    assert.deepEqual(log.sessions.map((s: SessionRecord) => [s.id, s.command, s.continues ?? null, s.hint ?? null]), [["a", "solve", null, null], ["b", "one-more-round", "a", "double it"]]);
    assert.deepEqual([...log.reviews], [["a", "accepted"], ["b", "rejected"]]);
    assert.deepEqual(log.problems.map((p) => [p.line, p.message.replace(/:.*$/s, "")]), [[4, "not JSON"], [6, "line has version 2, newer than this version of RLEF reads (1); update RLEF"], [7, "line.decision must be equal to one of the allowed values"]]);
    assert.ok(log.problems.every((p) => p.file === join(dir, "sessions-2026-11.jsonl")));

    // Clearing deletes the log's files only.
    assert.equal(await clearSessionLog(dir), 2);
    assert.deepEqual(readdirSync(dir).sort(), ["notes.txt", "sessions-2026-10.jsonl.bak"]);
    assert.deepEqual((await readSessionLog(dir)).sessions, []);
    assert.deepEqual((await readSessionLog(join(dir, "missing"))).files, []);
  } finally {
    rmSync(resolve(dir, "..", ".."), { recursive: true, force: true });
  }
});

test("a record the schema refuses is not written, and a folder that cannot be made fails the write with its reason", async () => {
  const base = mkdtempSync(join(tmpdir(), "rlef-log-"));
  try {
    const writer = new SessionLogWriter(join(base, "log"));
    await assert.rejects(writer.writeReview("", "accepted"), /review.session must NOT have fewer than 1 characters/);
    await assert.rejects(writer.writeSession(input({ id: "x".repeat(300) })), /session.id must NOT have more than 200 characters/);
    assert.equal(existsSync(join(base, "log")), false);
    writeFileSync(join(base, "file"), "");
    await assert.rejects(new SessionLogWriter(join(base, "file", "log")).writeReview("a", "accepted"), /ENOTDIR/);
    await assert.rejects(readSessionLog(join(base, "file")), /cannot read the session log folder .*file/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("the default folder follows XDG_STATE_HOME", () => {
  assert.equal(defaultSessionLogDir({ XDG_STATE_HOME: "/x/state" }), "/x/state/rlef/sessions");
  assert.match(defaultSessionLogDir({}), /\/\.local\/state\/rlef\/sessions$/);
});
