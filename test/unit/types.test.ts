import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../../server/env/types";

test("default limits are the spec's 10 s and 1 GiB", () => {
  assert.equal(DEFAULT_LIMITS.timeMs, 10_000);
  assert.equal(DEFAULT_LIMITS.memoryBytes, 1024 ** 3);
});
