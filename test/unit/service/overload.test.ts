// Resource bounds seen from a client: a full run queue answers "overloaded" and leaves the episode as it
// was; the episode cap answers "too_many_episodes"; idle unauthenticated connections are dropped.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { startEnvService, type EnvService } from "../../../server/service/server";
import { TestClient } from "./ws-client";

let sandbox: Sandbox;
let service: EnvService;
before(async () => {
  sandbox = await createSandbox({ workers: 1 });
  service = await startEnvService({ sandbox, runConcurrency: 1, maxQueuedRuns: 0, maxEpisodes: 3, authTimeoutMs: 200 });
});
after(async () => {
  await service.close();
  await sandbox.dispose();
});

const task = {
  kind: "stdio", id: "slow", set: "toy", language: "python", statement: "Echo.",
  publicTests: [{ input: "1\n", output: "1\n" }], privateTests: [],
  checker: { mode: "tokens" }, limits: { timeMs: 10_000, memoryBytes: 256 * 1024 ** 2 },
};
const echo = "```python\nimport time\ntime.sleep(0.3)\nprint(input())\n```";

test("with one run slot and no queue, concurrent steps beyond the first are refused and can be retried", async () => {
  const c = await TestClient.connect(service.url, { Authorization: `Bearer ${service.token}` });
  const ids = (await c.request({ type: "resetBatch", items: [{ task }, { task }, { task }] })).items as Array<{ episodeId: string }>;
  const tooMany = await c.request({ type: "reset", task });
  assert.equal(tooMany.code, "too_many_episodes");
  const replies = await Promise.all(ids.map(({ episodeId }) => c.request({ type: "step", episodeId, response: echo })));
  const overloaded = replies.filter((r) => r.code === "overloaded");
  const played = replies.filter((r) => r.type === "step");
  assert.equal(played.length, 1);
  assert.equal(overloaded.length, 2);
  for (const [i, r] of replies.entries()) {
    if (r.code !== "overloaded") continue;
    const retry = await c.request({ type: "step", episodeId: ids[i].episodeId, response: echo });
    assert.deepEqual([retry.type, retry.turn, retry.done, retry.reward], ["step", 1, true, 1]);
  }
  const stats = await c.request({ type: "stats" });
  assert.equal((stats.errors as Record<string, number>).overloaded, 2);
  c.close();
});

test("a connection that never authenticates is closed after the authentication timeout", async () => {
  const idle = await TestClient.connect(service.url);
  assert.equal(await idle.closed, 4401);
  assert.deepEqual(idle.replies, []);
});
