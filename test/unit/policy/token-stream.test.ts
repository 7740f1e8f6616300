import { test } from "node:test";
import assert from "node:assert/strict";
import { TokenStream } from "../../../server/policy/token-stream";

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

test("items pushed before and after iteration starts all arrive in order", async () => {
  const stream = new TokenStream<number>();
  stream.push(1);
  const collected = collect(stream);
  stream.push(2);
  setImmediate(() => {
    stream.push(3);
    stream.end();
  });
  assert.deepEqual(await collected, [1, 2, 3]);
});

test("a failure reaches the consumer after the items before it", async () => {
  const stream = new TokenStream<number>();
  stream.push(1);
  stream.fail(new Error("session lost"));
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const item of stream) seen.push(item);
  }, /session lost/);
  assert.deepEqual(seen, [1]);
});

test("a stream can be iterated only once", async () => {
  const stream = new TokenStream<number>();
  stream.end();
  await collect(stream);
  await assert.rejects(collect(stream), /only once/);
});
