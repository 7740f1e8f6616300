import { test } from "node:test";
import assert from "node:assert/strict";
import { turnReward } from "../../../server/env/reward";

test("the reward table of spec/rlef.md §3, with the invalid penalty stacking on the final turn", () => {
  const table: Array<[Parameters<typeof turnReward>[0], number]> = [
    [{ invalid: false, final: false }, 0],
    [{ invalid: true, final: false }, -0.2],
    [{ invalid: false, final: true, passedAllTests: true }, 1],
    [{ invalid: false, final: true, passedAllTests: false }, -1],
    [{ invalid: true, final: true, passedAllTests: false }, -1.2],
  ];
  for (const [outcome, expected] of table) assert.equal(turnReward(outcome), expected, JSON.stringify(outcome));
});

test("a final turn without a verdict is a programming error", () => {
  assert.throws(() => turnReward({ invalid: false, final: true }), /needs passedAllTests/);
});
