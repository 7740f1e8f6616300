import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { CappedCapture } from "../../../server/env/sandbox/capture";

test("output under the cap is kept whole", async () => {
  const stream = new PassThrough();
  const capture = new CappedCapture(stream, 10);
  stream.end(Buffer.from("hello"));
  await capture.done;
  assert.equal(capture.bytes().toString(), "hello");
  assert.equal(capture.truncated, false);
});

test("output over the cap keeps exactly the first cap bytes and keeps draining", async () => {
  const stream = new PassThrough();
  const capture = new CappedCapture(stream, 4);
  stream.write(Buffer.from("abc"));
  stream.write(Buffer.from("defgh"));
  stream.end(Buffer.alloc(1 << 20, 1)); // would block a writer forever if nobody drained
  await capture.done;
  assert.equal(capture.bytes().toString(), "abcd");
  assert.equal(capture.truncated, true);
});

test("binary output is kept byte for byte", async () => {
  const stream = new PassThrough();
  const capture = new CappedCapture(stream, 100);
  const bytes = Buffer.from([0, 1, 0xff, 0xfe, 0x80]);
  stream.end(bytes);
  await capture.done;
  assert.deepEqual(capture.bytes(), bytes);
});
