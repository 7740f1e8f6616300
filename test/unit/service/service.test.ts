// The environment service end to end: real WebSocket, real sandbox, real stdio runner (python3).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { startEnvService, type EnvService } from "../../../server/service/server";
import { TestClient, type Reply } from "./ws-client";

const MAX_MESSAGE_BYTES = 256 * 1024;
let sandbox: Sandbox;
let service: EnvService;

before(async () => {
  sandbox = await createSandbox({ workers: 2 });
  service = await startEnvService({ sandbox, maxMessageBytes: MAX_MESSAGE_BYTES, benchmarksRoot: "/nonexistent-benchmarks" });
});
after(async () => {
  await service.close();
  await sandbox.dispose();
});

/** Task k: read an integer, print it plus k. Cheap, and each task has its own right answer. */
function addTask(k: number) {
  return {
    kind: "stdio",
    id: `add-${k}`,
    set: "toy",
    language: "python",
    statement: `Read an integer and print it plus ${k}.`,
    publicTests: [{ input: "1\n", output: `${1 + k}\n` }],
    privateTests: [{ input: "10\n", output: `${10 + k}\n` }],
    checker: { mode: "tokens" },
    limits: { timeMs: 10_000, memoryBytes: 256 * 1024 ** 2 },
  };
}
const program = (k: number) => "```python\nprint(int(input()) + " + k + ")\n```";

async function authenticated(): Promise<TestClient> {
  const c = await TestClient.connect(service.url);
  const hello = await c.request({ type: "hello", protocolVersion: 1, token: service.token });
  assert.equal(hello.type, "hello");
  return c;
}

test("binds to loopback with a long random token by default", () => {
  assert.equal(service.host, "127.0.0.1");
  assert.match(service.token, /^[0-9a-f]{64}$/);
  assert.match(service.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
});

test("hello answers with the protocol version, capabilities, limits and isolation", async () => {
  const c = await TestClient.connect(service.url);
  const r = await c.request({ type: "hello", protocolVersion: 1, token: service.token });
  assert.equal(r.protocolVersion, 1);
  assert.equal((r.capabilities as { batch: boolean }).batch, true);
  assert.equal((r.capabilities as { listTasks: boolean }).listTasks, true);
  assert.equal((r.limits as { maxMessageBytes: number }).maxMessageBytes, MAX_MESSAGE_BYTES);
  assert.equal((r.isolation as { mode: string }).mode, sandbox.isolation.mode);
  const v2 = await c.request({ type: "hello", protocolVersion: 2 });
  assert.deepEqual([v2.type, v2.code], ["error", "unsupported_protocol_version"]);
  c.close();
});

test("a wrong token gets an unauthorized error and the connection is closed", async () => {
  const c = await TestClient.connect(service.url);
  const r = await c.request({ type: "hello", protocolVersion: 1, token: "not-the-token" });
  assert.deepEqual([r.type, r.code, r.requestId], ["error", "unauthorized", "r0"]);
  assert.equal(await c.closed, 4401);
});

test("a first message other than hello is refused when no Authorization header was sent", async () => {
  const c = await TestClient.connect(service.url);
  const r = await c.request({ type: "stats" });
  assert.deepEqual([r.type, r.code], ["error", "unauthorized"]);
  assert.equal(await c.closed, 4401);
});

test("an Authorization: Bearer header authenticates without hello; a wrong one does not", async () => {
  const good = await TestClient.connect(service.url, { Authorization: `Bearer ${service.token}` });
  assert.equal((await good.request({ type: "stats" })).type, "stats");
  good.close();
  const bad = await TestClient.connect(service.url, { Authorization: "Bearer wrong" });
  assert.equal((await bad.request({ type: "stats" })).code, "unauthorized");
});

test("an episode over the wire: reset, a wrong answer with feedback, a fix, +1", async () => {
  const c = await authenticated();
  const reset = await c.request({ type: "reset", task: addTask(5) });
  assert.equal(reset.type, "reset");
  const episodeId = reset.episodeId as string;
  const s1 = await c.request({ type: "step", episodeId, response: program(4) });
  assert.deepEqual([s1.type, s1.done, s1.reward, s1.turn], ["step", false, 0, 1]);
  const feedback = (s1.observation as { messages: Array<{ content: string }> }).messages[0].content;
  assert.match(feedback, /^Your code failed the following tests:\n\nTest 1: wrong answer\nInput:\n1\nExpected output:\n6\nYour output:\n5\n/);
  const s2 = await c.request({ type: "step", episodeId, response: program(5) });
  assert.deepEqual([s2.done, s2.reward, s2.turn], [true, 1, 2]);
  assert.equal((s2.info as { final: { passed: boolean } }).final.passed, true);
  const again = await c.request({ type: "step", episodeId, response: program(5) });
  assert.equal(again.code, "unknown_episode", "finished episodes are forgotten");
  c.close();
});

test("options reach the episode: maxTurns, the context budget, and close abandons an episode", async () => {
  const c = await authenticated();
  const reset = await c.request({ type: "reset", task: addTask(1), options: { maxTurns: 1, contextLength: 10_000 } });
  assert.equal(reset.maxTurns, 1);
  const s = await c.request({ type: "step", episodeId: reset.episodeId, response: "no code" });
  assert.deepEqual([s.done, s.reward], [true, -1.2]);
  assert.equal((s.info as { context: { fits: boolean } }).context.fits, true);
  const r2 = await c.request({ type: "reset", task: addTask(1) });
  assert.equal((await c.request({ type: "close", episodeId: r2.episodeId })).type, "close");
  assert.equal((await c.request({ type: "step", episodeId: r2.episodeId, response: program(1) })).code, "unknown_episode");
  c.close();
});

test("episodes belong to their connection", async () => {
  const a = await authenticated();
  const b = await authenticated();
  const reset = await a.request({ type: "reset", task: addTask(2) });
  assert.equal((await b.request({ type: "step", episodeId: reset.episodeId, response: program(2) })).code, "unknown_episode");
  a.close();
  b.close();
});

test("task-level problems are reported as errors: no public tests, workspace tasks, unknown sets, missing donors", async () => {
  const c = await authenticated();
  const noPublic = await c.request({ type: "reset", task: { ...addTask(1), publicTests: [] } });
  assert.deepEqual([noPublic.code, /no public tests/.test(noPublic.message as string)], ["invalid_task", true]);
  const workspace = {
    kind: "workspace", id: "w", set: "workspace", language: "python", root: "/etc", target: { file: "passwd" },
    runner: "pytest", command: ["pytest"], limits: { timeMs: 1000, memoryBytes: 64 * 1024 ** 2 },
  };
  assert.equal((await c.request({ type: "reset", task: workspace })).code, "workspace_tasks_disabled");
  assert.equal((await c.request({ type: "reset", task: { set: "no-such-set", id: "1" } })).code, "unknown_set");
  const unloadable = await c.request({ type: "reset", task: { set: "humaneval", id: "HumanEval/0" } });
  assert.equal(unloadable.code, "set_load_failed", "the benchmarks folder does not exist");
  const noDonors = await c.request({ type: "reset", task: addTask(1), options: { randomFeedback: true } });
  assert.deepEqual([noDonors.code, /needs options\.donorTasks/.test(noDonors.message as string)], ["invalid_message", true]);
  const foreignDonors = await c.request({ type: "reset", task: addTask(1), options: { randomFeedback: true, donorTasks: [{ ...addTask(2), set: "other" }] } });
  assert.deepEqual([foreignDonors.code, /no other task/.test(foreignDonors.message as string)], ["invalid_task", true]);
  c.close();
});

test("listTasks: an unknown set, an unloadable set and malformed requests get their error codes", async () => {
  const c = await authenticated();
  const unknown = await c.request({ type: "listTasks", requestId: "l-1", set: "no-such-set" });
  assert.deepEqual([unknown.type, unknown.code, unknown.requestId], ["error", "unknown_set", "l-1"]);
  const unloadable = await c.request({ type: "listTasks", set: "mbpp" });
  assert.equal(unloadable.code, "set_load_failed", "the benchmarks folder does not exist");
  const malformed: Array<[string, Record<string, unknown>, RegExp]> = [
    ["no set", { type: "listTasks" }, /required property 'set'/],
    ["set not a string", { type: "listTasks", set: 7 }, /message\.set must be string/],
    ["extra field", { type: "listTasks", set: "mbpp", trainableOnly: true }, /additional properties \("trainableOnly"\)/],
  ];
  for (const [what, message, reason] of malformed) {
    const r = await c.request(message);
    assert.deepEqual([r.type, r.code], ["error", "invalid_message"], what);
    assert.match(r.message as string, reason, what);
  }
  assert.equal(c.closeCode, null);
  c.close();
});

test("200+ concurrent episodes with malformed messages mixed in: every episode finishes, every bad message gets an error", async () => {
  const EPISODES = 200;
  const c = await authenticated();
  const statsBefore = await c.request({ type: "stats" });
  const peakBefore = statsBefore.peakEpisodesInFlight as number;

  // Malformed traffic, interleaved with the real traffic below. Each entry: what to send, the error code expected.
  const malformed: Array<{ text: string; code: string; requestId: string | null }> = [];
  const bad = (text: string, code: string, requestId: string | null) => malformed.push({ text, code, requestId });
  bad("{not json", "bad_json", null);
  bad("", "bad_json", null);
  bad("[1,2,3]", "invalid_message", null);
  bad("42", "invalid_message", null);
  bad(JSON.stringify({ requestId: "no-type" }), "invalid_message", "no-type");
  bad(JSON.stringify({ type: "teleport", requestId: "unknown-type" }), "unknown_type", "unknown-type");
  bad(JSON.stringify({ type: "step", requestId: "step-missing-fields" }), "invalid_message", "step-missing-fields");
  bad(JSON.stringify({ type: "step", requestId: "step-wrong-type", episodeId: 7, response: "x" }), "invalid_message", "step-wrong-type");
  bad(JSON.stringify({ type: "step", requestId: "step-unknown", episodeId: "nope", response: "x" }), "unknown_episode", "step-unknown");
  bad(JSON.stringify({ type: "reset", requestId: "reset-no-task" }), "invalid_message", "reset-no-task");
  bad(JSON.stringify({ type: "reset", requestId: "reset-bad-task", task: { kind: "stdio", id: "x" } }), "invalid_message", "reset-bad-task");
  bad(JSON.stringify({ type: "reset", requestId: "reset-bad-limits", task: { ...addTask(1), limits: { timeMs: -1, memoryBytes: 1 } } }), "invalid_message", "reset-bad-limits");
  bad(JSON.stringify({ type: "reset", requestId: "reset-extra", task: addTask(1), options: { maxTurns: 0 } }), "invalid_message", "reset-extra");
  bad(JSON.stringify({ type: "stepBatch", requestId: "empty-batch", items: [] }), "invalid_message", "empty-batch");
  bad(JSON.stringify({ type: "close", requestId: "close-unknown", episodeId: "nope" }), "unknown_episode", "close-unknown");
  bad(JSON.stringify({ type: "hello", requestId: "hello-v0", protocolVersion: 0 }), "invalid_message", "hello-v0");
  bad(JSON.stringify({ type: "stats", requestId: "huge", padding: "x".repeat(MAX_MESSAGE_BYTES + 10) }), "message_too_large", null);

  // Wrong tokens on other connections at the same time.
  const intruders = await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(service.url)));
  const intruderReplies = intruders.map((x, i) => x.request({ type: "hello", protocolVersion: 1, token: `wrong-${i}` }));

  // Half the episodes through single resets, half through one resetBatch.
  const half = EPISODES / 2;
  const singleResets = Array.from({ length: half }, (_, k) => c.request({ type: "reset", task: addTask(k) }));
  let sent = 0;
  const sendSomeMalformed = (n: number) => {
    for (let i = 0; i < n && sent < malformed.length; i++, sent++) c.sendRaw(malformed[sent].text);
  };
  sendSomeMalformed(6);
  const batchReset = c.request({ type: "resetBatch", items: Array.from({ length: half }, (_, k) => ({ task: addTask(half + k) })) });
  const resets: Reply[] = [...(await Promise.all(singleResets)), ...((await batchReset).items as Reply[])];
  assert.equal(resets.length, EPISODES);
  for (const r of resets) assert.equal(r.type, "reset", JSON.stringify(r));
  const midStats = await c.request({ type: "stats" });
  assert.ok((midStats.episodesInFlight as number) >= EPISODES, `in flight after the resets: ${midStats.episodesInFlight}`);
  sendSomeMalformed(6);

  // Turn 1, all episodes at once: one in four answers wrong (and gets feedback), the rest right.
  const wrongFirst = (k: number) => k % 4 === 1;
  const ids = resets.map((r) => r.episodeId as string);
  const firstSteps = ids.map((episodeId, k) => c.request({ type: "step", episodeId, response: program(wrongFirst(k) ? k + 100 : k) }));
  sendSomeMalformed(malformed.length);
  const turn1 = await Promise.all(firstSteps);
  for (const [k, r] of turn1.entries()) {
    assert.equal(r.type, "step", JSON.stringify(r));
    assert.equal(r.done, !wrongFirst(k));
    assert.equal(r.reward, wrongFirst(k) ? 0 : 1);
  }
  // Turn 2 for the wrong ones, as one stepBatch.
  const retry = ids.flatMap((episodeId, k) => (wrongFirst(k) ? [{ episodeId, response: program(k) }] : []));
  const turn2 = (await c.request({ type: "stepBatch", items: retry })).items as Reply[];
  assert.equal(turn2.length, retry.length);
  for (const r of turn2) assert.deepEqual([r.type, r.done, r.reward, r.turn], ["step", true, 1, 2], JSON.stringify(r).slice(0, 500));

  // Every malformed message got its structured error, with its requestId when it had one.
  for (const m of malformed.filter((x) => x.requestId !== null)) {
    const reply = c.replies.find((r) => r.requestId === m.requestId);
    assert.ok(reply, `no reply to ${m.requestId}`);
    assert.deepEqual([reply.type, reply.code], ["error", m.code], m.requestId!);
    assert.equal(typeof reply.message, "string");
  }
  const anonymous = malformed.filter((x) => x.requestId === null);
  const anonymousErrors = await c.waitForReplies((r) => r.type === "error" && r.requestId === null, anonymous.length);
  assert.deepEqual(anonymousErrors.map((r) => r.code).sort(), anonymous.map((m) => m.code).sort());
  for (const r of await Promise.all(intruderReplies)) assert.deepEqual([r.type, r.code], ["error", "unauthorized"]);
  for (const x of intruders) assert.equal(await x.closed, 4401);

  // The connection survived all of it, and the service reports the peak.
  const stats = await c.request({ type: "stats" });
  assert.ok((stats.peakEpisodesInFlight as number) >= Math.max(EPISODES, peakBefore), `peak ${stats.peakEpisodesInFlight}`);
  assert.ok((stats.peakEpisodesInFlight as number) >= 200);
  assert.equal(stats.episodesInFlight, 0);
  assert.ok((stats.peakStepsInFlight as number) > 1);
  assert.equal(c.closeCode, null);
  c.close();
});
