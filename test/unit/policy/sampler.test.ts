import { test } from "node:test";
import assert from "node:assert/strict";
import { applyRepetitionPenalty, sampleToken, validateSamplerSettings, type SamplerSettings } from "../../../server/policy/sampler";
import { seededRandom } from "../../../server/policy/seeded-random";

const greedy: SamplerSettings = { temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1 };
const sampling: SamplerSettings = { temperature: 1, topP: 1, topK: 0, repetitionPenalty: 1 };

function draws(logits: number[], settings: SamplerSettings, seed: number, n: number): number[] {
  const random = seededRandom(seed);
  const row = Float32Array.from(logits);
  return Array.from({ length: n }, () => sampleToken(row, settings, random).tokenId);
}

test("greedy picks the largest logit and the first one on ties", () => {
  const row = Float32Array.from([0.5, 3, -1, 3]);
  assert.equal(sampleToken(row, greedy, () => 0.99).tokenId, 1);
});

test("greedy reports the token's untempered log-probability", () => {
  const row = Float32Array.from([Math.log(1), Math.log(3)]);
  assert.ok(Math.abs(sampleToken(row, greedy, () => 0).logprob - Math.log(0.75)) < 1e-6);
});

test("the same seed reproduces the same draws and another seed gives others", () => {
  const logits = Array.from({ length: 50 }, (_, i) => Math.sin(i));
  const a = draws(logits, sampling, 42, 200);
  assert.deepEqual(draws(logits, sampling, 42, 200), a);
  assert.notDeepEqual(draws(logits, sampling, 43, 200), a);
});

test("seeds that differ only above 32 bits give different streams", () => {
  assert.notEqual(seededRandom(1)(), seededRandom(1 + 2 ** 32)());
});

test("sampled frequencies follow the softmax", () => {
  const counts = [0, 0, 0];
  for (const id of draws([Math.log(1), Math.log(2), Math.log(7)], sampling, 7, 20_000)) counts[id]++;
  assert.deepEqual(
    counts.map((c) => Math.round((c / 20_000) * 10)),
    [1, 2, 7],
  );
});

test("top-p keeps only the smallest set of tokens reaching the mass", () => {
  // probabilities 0.5, 0.3, 0.2: top-p 0.6 needs the first two, never the third
  const ids = new Set(draws([Math.log(0.5), Math.log(0.3), Math.log(0.2)], { ...sampling, topP: 0.6 }, 1, 2000));
  assert.deepEqual([...ids].sort(), [0, 1]);
});

test("top-p finds the nucleus in a large flat-tailed vocabulary", () => {
  const logits = new Array<number>(10_000).fill(0);
  logits[123] = 20; // carries nearly all the mass
  assert.deepEqual(new Set(draws(logits, { ...sampling, topP: 0.9 }, 3, 50)), new Set([123]));
});

test("top-k keeps only the k most probable tokens", () => {
  const ids = new Set(draws([1, 5, 3, 4, 2], { ...sampling, topK: 2 }, 5, 2000));
  assert.deepEqual([...ids].sort(), [1, 3]);
});

test("temperature sharpens the distribution", () => {
  const logits = [0, 1];
  const hot = draws(logits, sampling, 9, 5000).filter((id) => id === 1).length;
  const cold = draws(logits, { ...sampling, temperature: 0.25 }, 9, 5000).filter((id) => id === 1).length;
  assert.ok(cold > hot, `cold ${cold} should favour token 1 more than hot ${hot}`);
});

test("repetition penalty divides positive and multiplies negative logits of seen tokens only", () => {
  const row = Float32Array.from([2, -2, 2]);
  applyRepetitionPenalty(row, new Set([0, 1]), 2);
  assert.deepEqual([...row], [1, -4, 2]);
});

test("invalid sampler settings are rejected with the field named", () => {
  assert.throws(() => validateSamplerSettings({ ...sampling, temperature: -1 }), /temperature/);
  assert.throws(() => validateSamplerSettings({ ...sampling, temperature: NaN }), /temperature/);
  assert.throws(() => validateSamplerSettings({ ...sampling, topP: 0 }), /topP/);
  assert.throws(() => validateSamplerSettings({ ...sampling, topP: 1.5 }), /topP/);
  assert.throws(() => validateSamplerSettings({ ...sampling, topK: 1.5 }), /topK/);
  assert.throws(() => validateSamplerSettings({ ...sampling, repetitionPenalty: 0 }), /repetitionPenalty/);
  assert.throws(() => seededRandom(1.5), /seed/);
});

test("non-finite model output is an error, not a token", () => {
  assert.throws(() => sampleToken(Float32Array.from([0, NaN]), sampling, () => 0.5), /NaN/);
  assert.throws(() => sampleToken(Float32Array.from([0, NaN]), greedy, () => 0.5), /NaN/);
  assert.throws(() => sampleToken(Float32Array.from([Infinity, 0]), sampling, () => 0.5), /non-finite/);
  assert.throws(() => sampleToken(new Float32Array(0), sampling, () => 0.5), /empty/);
});
