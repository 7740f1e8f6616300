import { test } from "node:test";
import assert from "node:assert/strict";
import { expNonPositive, sampleToken } from "../../../server/policy/sampler";

test("expNonPositive matches Math.exp to 1e-10 relative over the whole range it is used on", () => {
  let worst = 0;
  for (let x = -708; x <= 0; x += 0.000917) {
    const exact = Math.exp(x);
    worst = Math.max(worst, Math.abs(expNonPositive(x) - exact) / exact);
  }
  // Values a float32 logit difference takes, including exact zeros and table boundaries.
  for (const x of [0, -0, -Math.LN2 / 16, -Math.LN2 / 8, -Math.LN2, -1e-9, -20.5, -87.33655, -103.97]) {
    const exact = Math.exp(x);
    worst = Math.max(worst, Math.abs(expNonPositive(x) - exact) / exact);
  }
  assert.ok(worst < 1e-10, `worst relative error ${worst}`);
});

test("expNonPositive is 0 far below the maximum and for masked logits, NaN for NaN", () => {
  assert.equal(expNonPositive(-709), 0);
  assert.equal(expNonPositive(-1e6), 0);
  assert.equal(expNonPositive(Number.NEGATIVE_INFINITY), 0);
  assert.ok(Number.isNaN(expNonPositive(Number.NaN)));
});

test("the greedy log-prob over a 150k vocabulary equals log-softmax computed with Math.exp", () => {
  const vocab = 151936;
  const logits = new Float32Array(vocab);
  let state = 12345;
  for (let i = 0; i < vocab; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    logits[i] = (state / 2 ** 31) * 30 - 15;
  }
  logits[777] = 16; // a clear maximum
  const { tokenId, logprob } = sampleToken(logits, { temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1 }, () => 0);
  let total = 0;
  for (let i = 0; i < vocab; i++) total += Math.exp(logits[i] - 16);
  assert.equal(tokenId, 777);
  assert.ok(Math.abs(logprob - -Math.log(total)) < 1e-9, `${logprob} vs ${-Math.log(total)}`);
});

test("a NaN logit still fails sampling with a clear error", () => {
  const logits = new Float32Array([1, 2, Number.NaN, 0]);
  assert.throws(() => sampleToken(logits, { temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1 }, () => 0), /NaN/);
  assert.throws(() => sampleToken(logits, { temperature: 0.7, topP: 1, topK: 0, repetitionPenalty: 1 }, () => 0.5), /NaN/);
});

test("greedy picks the first of tied maxima and handles a maximum at either end of the row", () => {
  const greedy = { temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1 };
  const logSoftmaxOf = (row: number[], id: number) => row[id] - Math.log(row.reduce((sum, x) => sum + Math.exp(x), 0));
  for (const row of [
    [1, 3, 3, 0],
    [5, 1, 2, 3],
    [0, 1, 2, 3, 4, 5, 6], // every entry a new maximum: the rescaling path each time
    [-1e30, -1e30, 7],
  ]) {
    const { tokenId, logprob } = sampleToken(Float32Array.from(row), greedy, () => 0);
    const expected = row.indexOf(Math.max(...row));
    assert.equal(tokenId, expected);
    assert.ok(Math.abs(logprob - logSoftmaxOf(Array.from(Float32Array.from(row)), expected)) < 1e-9, `row ${row}: ${logprob}`);
  }
});

test("an infinite logit fails greedy decoding with a clear error", () => {
  const greedy = { temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1 };
  assert.throws(() => sampleToken(new Float32Array([0, Number.POSITIVE_INFINITY, 1]), greedy, () => 0), /non-finite logit \(Infinity\)/);
  assert.throws(() => sampleToken(new Float32Array([Number.NaN, 1]), greedy, () => 0), /non-finite logit \(NaN\)/);
  assert.throws(() => sampleToken(new Float32Array([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]), greedy, () => 0), /non-finite logit/);
});
