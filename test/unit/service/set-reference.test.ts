// Task references into a built-in set (CodeContests subset), the random-feedback donor chosen the same
// way by two independent servers, and listTasks on the real sets. Needs ../shared/benchmarks.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { donorIndex } from "../../../server/env/donor";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { findSet } from "../../../server/env/tasks/registry";
import type { Task } from "../../../server/env/types";
import { startEnvService, type EnvService } from "../../../server/service/server";
import { TestClient } from "./ws-client";

const BENCHMARKS = resolve("../shared/benchmarks");
const skip = existsSync(BENCHMARKS) ? false : `no benchmarks folder at ${BENCHMARKS}`;

let sandbox: Sandbox;
let servers: EnvService[] = [];
let tasks: Task[] = [];

before(async () => {
  if (skip) return;
  sandbox = await createSandbox({ workers: 2 });
  servers = [
    await startEnvService({ sandbox, benchmarksRoot: BENCHMARKS }),
    await startEnvService({ sandbox, benchmarksRoot: BENCHMARKS }),
  ];
  tasks = (await findSet("codecontests")!.load(BENCHMARKS)).tasks;
});
after(async () => {
  if (skip) return;
  for (const s of servers) await s.close();
  await sandbox.dispose();
});

async function client(service: EnvService): Promise<TestClient> {
  return TestClient.connect(service.url, { Authorization: `Bearer ${service.token}` });
}

test("a {set, id} reference plays the set's task; an unknown id is an error", { skip }, async () => {
  const task = tasks[0];
  const c = await client(servers[0]);
  const r = await c.request({ type: "reset", task: { set: "codecontests", id: task.id } });
  assert.deepEqual([r.type, r.taskId], ["reset", task.id]);
  const content = (r.observation as { messages: Array<{ content: string }> }).messages[0].content;
  assert.ok(task.kind === "stdio" && content.includes(task.statement.trim().slice(0, 200)));
  const missing = await c.request({ type: "reset", task: { set: "codecontests", id: "no-such-problem" } });
  assert.equal(missing.code, "unknown_task");
  c.close();
});

test("random feedback picks the same donor on two servers, the one the documented hash names", { skip }, async () => {
  const task = tasks[3];
  const seed = 77;
  const candidates = tasks
    .filter((t) => t.id !== task.id && t.kind !== "workspace" && t.publicTests.length > 0)
    .map((t) => t.id)
    .sort();
  const expectedDonor = candidates[donorIndex(seed, task.id, 1, candidates.length)];
  const donorIds: string[] = [];
  const feedbacks: string[] = [];
  for (const service of servers) {
    const c = await client(service);
    const r = await c.request({ type: "reset", task: { set: "codecontests", id: task.id }, options: { randomFeedback: true, seed } });
    const s = await c.request({ type: "step", episodeId: r.episodeId, response: "```python\nprint('definitely wrong')\n```" });
    assert.equal(s.done, false, JSON.stringify(s).slice(0, 300));
    const info = s.info as { donorTaskId: string };
    donorIds.push(info.donorTaskId);
    feedbacks.push((s.observation as { messages: Array<{ content: string }> }).messages[0].content);
    c.close();
  }
  assert.equal(donorIds[0], expectedDonor);
  assert.equal(donorIds[1], expectedDonor);
  assert.equal(feedbacks[0], feedbacks[1]);
  const donor = tasks.find((t) => t.id === expectedDonor);
  assert.ok(donor?.kind === "stdio");
  assert.ok(feedbacks[0].includes(donor.publicTests[0].input.replace(/[\r\n]+$/, "").slice(0, 100)), "shows the donor's input");
  assert.match(feedbacks[0], /Your output:\n\(no output\)/);
});

type Listing = { type: string; set: string; trainable: boolean | "partly"; tasks: Array<{ id: string; trainable: boolean }> };

async function listTasks(set: string): Promise<Listing> {
  const c = await client(servers[0]);
  const reply = (await c.request({ type: "listTasks", set })) as unknown as Listing;
  c.close();
  assert.equal(reply.type, "listTasks", JSON.stringify(reply).slice(0, 300));
  return reply;
}

test("listTasks mbpp: the 399 tasks whose number is in MBPP+ are not trainable, the other 575 are", { skip }, async () => {
  const reply = await listTasks("mbpp");
  assert.deepEqual([reply.set, reply.trainable, reply.tasks.length], ["mbpp", "partly", 974]);
  const loaded = (await findSet("mbpp")!.load(BENCHMARKS)).tasks.map((t) => t.id);
  assert.deepEqual(reply.tasks.map((t) => t.id), loaded, "load order");
  assert.equal(reply.tasks.filter((t) => !t.trainable).length, 399);
  assert.equal(reply.tasks.filter((t) => t.trainable).length, 575);
  const byId = new Map(reply.tasks.map((t) => [t.id, t.trainable]));
  assert.equal(byId.get("mbpp/2"), false, "Mbpp/2 is in MBPP+");
  assert.equal(byId.get("mbpp/1"), true, "there is no Mbpp/1");
  assert.equal(byId.get("mbpp/5"), true, "there is no Mbpp/5");
  const plusNumbers = new Set((await findSet("mbpp_plus")!.load(BENCHMARKS)).tasks.map((t) => t.id.replace(/^Mbpp\//, "mbpp/")));
  for (const t of reply.tasks) assert.equal(t.trainable, !plusNumbers.has(t.id), t.id);
  assert.deepEqual(await listTasks("mbpp"), reply, "asked again, the same answer");
});

test("listTasks: humaneval is all untrainable, codecontests all trainable", { skip }, async () => {
  const humaneval = await listTasks("humaneval");
  assert.deepEqual([humaneval.trainable, humaneval.tasks.length, humaneval.tasks.every((t) => !t.trainable)], [false, 164, true]);
  const codecontests = await listTasks("codecontests");
  assert.deepEqual([codecontests.trainable, codecontests.tasks.length, codecontests.tasks.every((t) => t.trainable)], [true, 136, true]);
  assert.deepEqual(codecontests.tasks.map((t) => t.id), tasks.map((t) => t.id));
});

test("listTasks apps: a duplicated record is listed once, at its first position, and every listed id resets", { skip }, async () => {
  const reply = await listTasks("apps");
  const ids = reply.tasks.map((t) => t.id);
  const loaded = (await findSet("apps")!.load(BENCHMARKS)).tasks.map((t) => t.id);
  assert.ok(loaded.length > ids.length, "the data repeats some records");
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual(ids, [...new Set(loaded)]);
  assert.equal(ids.filter((id) => id === "apps/1604").length, 1);
  const c = await client(servers[0]);
  const resets = (await c.request({ type: "resetBatch", items: ids.map((id) => ({ task: { set: "apps", id } })) })).items as Array<{ type: string }>;
  c.close();
  assert.deepEqual(new Set(resets.map((r) => r.type)), new Set(["reset"]));
});
