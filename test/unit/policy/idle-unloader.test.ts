import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { IdleUnloader } from "../../../server/policy/idle-unloader";

function counted(idleMs: number) {
  const log: string[] = [];
  let n = 0;
  const unloader = new IdleUnloader(
    async () => {
      log.push(`load ${++n}`);
      return n;
    },
    async (value) => {
      log.push(`release ${value}`);
    },
    idleMs,
  );
  return { unloader, log };
}

test("loads on first use and keeps the resource for later uses", async () => {
  const { unloader, log } = counted(0);
  assert.equal(await unloader.use(async (v) => v), 1);
  assert.equal(await unloader.use(async (v) => v), 1);
  assert.deepEqual(log, ["load 1"]);
});

test("releases after the idle timeout and loads again on the next use", async () => {
  const { unloader, log } = counted(20);
  await unloader.use(async () => undefined);
  await sleep(80);
  assert.equal(unloader.isLoaded, false);
  assert.equal(await unloader.use(async (v) => v), 2);
  assert.deepEqual(log, ["load 1", "release 1", "load 2"]);
  await unloader.unload();
});

test("never unloads while a use is running; an unload asked for meanwhile happens after it", async () => {
  const { unloader, log } = counted(10);
  await unloader.use(async () => {
    await sleep(50);
    await unloader.unload();
    assert.equal(unloader.isLoaded, true);
  });
  await sleep(5);
  assert.deepEqual(log, ["load 1", "release 1"]);
});

test("a failed load is reported and retried on the next use", async () => {
  let attempts = 0;
  const unloader = new IdleUnloader(
    async () => {
      if (++attempts === 1) throw new Error("disk full");
      return "model";
    },
    async () => undefined,
    0,
  );
  await assert.rejects(unloader.use(async (v) => v), /disk full/);
  assert.equal(await unloader.use(async (v) => v), "model");
});

test("a negative timeout is rejected", () => {
  assert.throws(() => new IdleUnloader(async () => 1, async () => undefined, -1), /timeout/);
});
