import { test } from "node:test";
import assert from "node:assert/strict";
import { RunQueue } from "../../../server/service/run-queue";
import { ServiceError } from "../../../server/service/protocol";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test("at most `concurrency` jobs run; the rest wait in order", async () => {
  const q = new RunQueue(2, 10);
  const gates = [deferred(), deferred(), deferred()];
  const started: number[] = [];
  const jobs = gates.map((g, i) => q.run(async () => (started.push(i), await g.promise, i)));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual([q.active, q.queued, q.peakQueued], [2, 1, 1]);
  gates[0].resolve();
  await jobs[0];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [0, 1, 2]);
  gates[1].resolve();
  gates[2].resolve();
  assert.deepEqual(await Promise.all(jobs), [0, 1, 2]);
  assert.deepEqual([q.active, q.queued], [0, 0]);
});

test("a full queue refuses at once with an overloaded error, and a failed job frees its slot", async () => {
  const q = new RunQueue(1, 1);
  const gate = deferred();
  const running = q.run(() => gate.promise);
  const waiting = q.run(() => Promise.reject(new Error("boom")));
  await assert.rejects(q.run(() => Promise.resolve()), (e: unknown) => e instanceof ServiceError && e.code === "overloaded");
  gate.resolve();
  await running;
  await assert.rejects(waiting, /boom/);
  assert.equal(await q.run(() => Promise.resolve("free again")), "free again");
  assert.equal(q.active, 0);
});

test("nonsensical bounds are rejected", () => {
  assert.throws(() => new RunQueue(0, 1), /positive integer/);
  assert.throws(() => new RunQueue(1, -1), /non-negative integer/);
});
