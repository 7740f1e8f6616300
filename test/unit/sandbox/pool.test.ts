import { test } from "node:test";
import assert from "node:assert/strict";
import { AbortedWhileQueued, WorkerPool } from "../../../server/env/sandbox/pool";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test("never runs more tasks at once than its size", async () => {
  const pool = new WorkerPool(2);
  let concurrent = 0;
  let most = 0;
  const task = async () => {
    concurrent++;
    most = Math.max(most, concurrent);
    await new Promise((r) => setTimeout(r, 5));
    concurrent--;
  };
  await Promise.all(Array.from({ length: 10 }, () => pool.run(task)));
  assert.equal(most, 2);
  assert.equal(pool.active, 0);
});

test("a queued task whose signal aborts leaves the queue without running", async () => {
  const pool = new WorkerPool(1);
  const gate = deferred();
  const first = pool.run(() => gate.promise);
  const controller = new AbortController();
  let ran = false;
  const second = pool.run(async () => {
    ran = true;
  }, controller.signal);
  assert.equal(pool.queued, 1);
  controller.abort();
  await assert.rejects(second, AbortedWhileQueued);
  assert.equal(pool.queued, 0);
  gate.resolve();
  await first;
  assert.equal(ran, false);
});

test("an already aborted signal never starts the task", async () => {
  const pool = new WorkerPool(1);
  await assert.rejects(pool.run(async () => 1, AbortSignal.abort()), AbortedWhileQueued);
  assert.equal(pool.active, 0);
});

test("rejectQueued fails waiting tasks and leaves running ones alone", async () => {
  const pool = new WorkerPool(1);
  const gate = deferred();
  const first = pool.run(async () => {
    await gate.promise;
    return "done";
  });
  const second = pool.run(async () => "never");
  pool.rejectQueued(new Error("disposed"));
  await assert.rejects(second, /disposed/);
  gate.resolve();
  assert.equal(await first, "done");
});

test("a task that throws frees its worker", async () => {
  const pool = new WorkerPool(1);
  await assert.rejects(pool.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await pool.run(async () => 7), 7);
});

for (const size of [0, -1, 1.5, Number.NaN]) {
  test(`a pool of size ${size} is refused`, () => {
    assert.throws(() => new WorkerPool(size), /positive integer/);
  });
}
