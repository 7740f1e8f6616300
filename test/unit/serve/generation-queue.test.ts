import { test } from "node:test";
import assert from "node:assert/strict";
import { GenerationQueue } from "../../../server/serve/generation-queue";

function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

test("jobs run one at a time in arrival order, even when an earlier one fails", async () => {
  const queue = new GenerationQueue(10);
  const order: string[] = [];
  const first = gate();
  const a = queue.run(async () => {
    order.push("a start");
    await first.opened;
    order.push("a end");
    throw new Error("a failed");
  }, new AbortController().signal);
  const b = queue.run(async () => {
    order.push("b");
    return 2;
  }, new AbortController().signal);
  await Promise.resolve();
  assert.equal(queue.length, 1, "b waits");
  first.open();
  await assert.rejects(a, /a failed/);
  assert.equal(await b, 2);
  assert.deepEqual(order, ["a start", "a end", "b"]);
});

test("a job whose client left while it waited never runs", async () => {
  const queue = new GenerationQueue(10);
  const first = gate();
  const running = queue.run(() => first.opened, new AbortController().signal);
  const leaving = new AbortController();
  let ran = false;
  const waiting = queue.run(async () => {
    ran = true;
  }, leaving.signal);
  leaving.abort();
  first.open();
  await running;
  await assert.rejects(waiting, /disconnected before its generation started/);
  assert.equal(ran, false);
});

test("the queue reports full once maxWaiting requests wait", async () => {
  const queue = new GenerationQueue(1);
  const first = gate();
  const running = queue.run(() => first.opened, new AbortController().signal);
  await Promise.resolve();
  assert.equal(queue.isFull(), false, "the running job does not count as waiting");
  const second = queue.run(async () => undefined, new AbortController().signal);
  assert.equal(queue.isFull(), true);
  first.open();
  await Promise.all([running, second]);
  assert.equal(queue.isFull(), false);
});
