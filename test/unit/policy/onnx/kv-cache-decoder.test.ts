import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { openDecoderSession, type DecoderSession } from "../../../../server/policy/onnx/kv-cache-decoder";
import { readModelFolder } from "../../../../server/policy/onnx/model-folder";
import { tinyModelFolder } from "../python-reference";

let decoder: DecoderSession;
let vocab: number;

before(async () => {
  const folder = readModelFolder(tinyModelFolder());
  vocab = folder.shape.vocabSize;
  decoder = await openDecoderSession(folder.onnxPath, folder.shape, { intraOpThreads: 1 });
});

after(async () => {
  await decoder.release();
});

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

const PROMPT = [11, 42, 7, 300, 5, 19, 88, 2];

test("decoding token by token through the cache gives the logits of one pass over the whole sequence", async () => {
  // Long enough to cross the attention mask's reallocation (every 256 positions).
  const sequence = decoder.newSequence();
  let logits = await sequence.forward(PROMPT);
  const all = [...PROMPT];
  while (all.length < 300) {
    const next = argmax(logits);
    all.push(next);
    logits = await sequence.forward([next]);
  }
  assert.equal(sequence.length, 300);
  const oneShot = await decoder.newSequence().forward(all);
  assert.equal(logits.length, vocab);
  assert.ok(maxAbsDifference(logits, oneShot) < 1e-3, `cached and one-pass logits differ by ${maxAbsDifference(logits, oneShot)}`);
});

test("the logits of a step stay as they were after later steps (each step owns its output)", async () => {
  const sequence = decoder.newSequence();
  const first = await sequence.forward(PROMPT);
  const snapshot = Float32Array.from(first);
  await sequence.forward([argmax(first)]);
  await sequence.forward([3]);
  assert.deepEqual(first, snapshot);
});

test("two sequences of one session, stepped in turn, each keep their own cache", async () => {
  const a = decoder.newSequence();
  const b = decoder.newSequence();
  let logitsA = await a.forward(PROMPT);
  let logitsB = await b.forward([9, 9, 9]);
  for (let k = 0; k < 5; k++) {
    logitsA = await a.forward([argmax(logitsA)]);
    logitsB = await b.forward([argmax(logitsB)]);
  }
  const alone = decoder.newSequence();
  let logitsAlone = await alone.forward(PROMPT);
  for (let k = 0; k < 5; k++) logitsAlone = await alone.forward([argmax(logitsAlone)]);
  assert.deepEqual(logitsA, logitsAlone);
  assert.equal(b.length, 8);
});

test("a step with no tokens or a malformed id is refused before onnxruntime runs", async () => {
  const sequence = decoder.newSequence();
  await assert.rejects(sequence.forward([]), /at least one token/);
  await assert.rejects(sequence.forward([1, 2.5]), /token ids\[1\] = 2.5 is not a token id/);
  await assert.rejects(sequence.forward([-3]), /token ids\[0\] = -3 is not a token id/);
  // Nothing was added to the cache by the refused steps.
  assert.equal(sequence.length, 0);
  const logits = await sequence.forward(PROMPT);
  assert.equal(logits.length, vocab);
  assert.equal(sequence.length, PROMPT.length);
});
