// `rlef verify` over the Python function-level sets: every reference passes, every deterministic mutant
// fails, special-oracle alternatives pass (LeetCode: known answers pass, a changed answer fails); the only
// exceptions are the documented dataset errors.
// Slow (minutes on 2 cores): run with `node scripts/run-tests.mjs test/verify`.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { createSandbox } from "../../server/env/sandbox";
import type { Sandbox } from "../../server/env/sandbox/types";
import { pythonFunctionSets } from "../../server/env/tasks/python-sets";
import { resolveBenchmarksRoot } from "../../server/env/verify/benchmarks-root";
import { loadExclusions, type VerifyExclusion } from "../../server/env/verify/exclusions";
import { summarise, verifyTasks } from "../../server/env/verify/run-verify";

let sandbox: Sandbox;
let exclusions: VerifyExclusion[];
before(async () => {
  sandbox = await createSandbox();
  exclusions = await loadExclusions();
});
after(() => sandbox.dispose());

const expectations: { set: string; tasks: number }[] = [
  { set: "humaneval", tasks: 164 },
  { set: "mbpp", tasks: 974 },
  { set: "humaneval_plus", tasks: 164 },
  { set: "mbpp_plus", tasks: 399 },
  // No reference solutions: known-answer programs (each test's expected value) pass, one changed answer fails.
  { set: "leetcode", tasks: 180 },
  // APPS call-based: no references either; known answers pass, a changed or list-wrapped answer fails.
  { set: "apps_call", tasks: 98 },
];

describe("rlef verify on the Python sets", () => {
  for (const { set: name, tasks: count } of expectations) {
    test(`${name}: all ${count} tasks verify, except documented dataset errors`, async () => {
      const set = pythonFunctionSets.find((s) => s.name === name)!;
      const { tasks, errors } = await set.load(resolveBenchmarksRoot());
      assert.deepEqual(errors, []);
      assert.equal(tasks.length, count);
      const began = Date.now();
      const results = await verifyTasks(tasks, (t) => set.verificationPrograms(t), {
        sandbox,
        timeMultiplier: 3,
        concurrency: availableParallelism() * 2,
        exclusions,
      });
      const summary = summarise(results);
      process.stdout.write(`# ${name}: ${summary.passed}/${summary.total} (+${summary.excluded} excluded) in ${((Date.now() - began) / 1000).toFixed(1)} s\n`);
      assert.deepEqual(summary.failures, []);
      assert.equal(summary.skipped, 0);
      const excludedHere = exclusions.filter((e) => e.set === name).map((e) => e.taskId).sort();
      // An exclusion whose task now verifies is stale and must be removed.
      assert.deepEqual(results.filter((r) => r.excludedBecause).map((r) => r.taskId).sort(), excludedHere);
      assert.equal(summary.passed + summary.excluded, count);
    });
  }
});
