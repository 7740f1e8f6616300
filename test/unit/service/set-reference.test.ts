// Task references into a built-in set (CodeContests subset), and the random-feedback donor chosen the
// same way by two independent servers. Needs ../shared/benchmarks.
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
