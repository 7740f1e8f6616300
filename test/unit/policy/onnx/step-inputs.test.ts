import { test } from "node:test";
import assert from "node:assert/strict";
import { StepInputs } from "../../../../server/policy/onnx/step-inputs";

const values = (data: unknown) => Array.from(data as BigInt64Array, Number);

test("a prefill step gets its ids, positions from 0 and a mask of ones over the prompt", () => {
  const step = new StepInputs().next([5, 7, 9], 0);
  assert.deepEqual(values(step.inputIds.data), [5, 7, 9]);
  assert.deepEqual(step.inputIds.dims, [1, 3]);
  assert.deepEqual(values(step.positionIds.data), [0, 1, 2]);
  assert.deepEqual(step.positionIds.dims, [1, 3]);
  assert.deepEqual(values(step.attentionMask.data), [1, 1, 1]);
  assert.deepEqual(step.attentionMask.dims, [1, 3]);
});

test("decode steps continue the positions and grow the mask past its reallocation size", () => {
  const inputs = new StepInputs();
  inputs.next([1, 2], 0);
  // 600 positions crosses the mask's growth step (256) twice.
  for (let past = 2; past < 600; past++) {
    const step = inputs.next([past % 50], past);
    assert.deepEqual(values(step.inputIds.data), [past % 50]);
    assert.deepEqual(values(step.positionIds.data), [past]);
    assert.equal(step.attentionMask.dims[1], past + 1);
    assert.equal((step.attentionMask.data as BigInt64Array).length, past + 1);
  }
  const last = inputs.next([3], 600);
  assert.ok(values(last.attentionMask.data).every((one) => one === 1));
});

test("a longer step after short ones (a second prompt turn) gets buffers of its length", () => {
  const inputs = new StepInputs();
  inputs.next([1], 0);
  inputs.next([2], 1);
  const turn = inputs.next([10, 11, 12, 13, 14], 2);
  assert.deepEqual(values(turn.inputIds.data), [10, 11, 12, 13, 14]);
  assert.deepEqual(values(turn.positionIds.data), [2, 3, 4, 5, 6]);
  assert.equal(turn.attentionMask.dims[1], 7);
});

test("malformed steps are refused with the problem named", () => {
  const inputs = new StepInputs();
  assert.throws(() => inputs.next([], 0), /at least one token/);
  assert.throws(() => inputs.next([1.5], 0), /token ids\[0\] = 1.5 is not a token id/);
  assert.throws(() => inputs.next([4, -1], 0), /token ids\[1\] = -1 is not a token id/);
  assert.throws(() => inputs.next([4, Number.NaN], 0), /token ids\[1\] = NaN/);
  assert.throws(() => inputs.next([4], -1), /past length must be an integer >= 0, got -1/);
  assert.throws(() => inputs.next([4], 2.5), /past length must be an integer >= 0, got 2.5/);
});
