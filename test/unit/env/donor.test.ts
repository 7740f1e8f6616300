// Random-feedback donor: deterministic choice, the fixed wrong program, and real runs of it (python3 in the sandbox).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { donorIndex, fixedWrongProgram, RandomFeedbackDonor } from "../../../server/env/donor";
import { Episode, type RunTestsFn } from "../../../server/env/episode";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { runTests } from "../../../server/env/run";
import { DEFAULT_LIMITS, type FunctionTask, type StdioTask } from "../../../server/env/types";

test("the donor index is SHA-256 of the JSON triple, identical to an independent implementation", () => {
  // Expected values from Python: int.from_bytes(sha256(b'[7,"a",1]').digest()[:8], "big") % 10, etc.
  assert.equal(donorIndex(7, "a", 1, 10), 0);
  assert.equal(donorIndex(0, "CodeContests/1", 3, 1000), 988);
});

test("the donor index depends on seed, task and turn", () => {
  const picks = new Set<number>();
  for (let seed = 0; seed < 20; seed++) picks.add(donorIndex(seed, "t", 1, 1_000_000));
  assert.ok(picks.size > 15);
  assert.notEqual(donorIndex(1, "t", 1, 1_000_000), donorIndex(1, "t", 2, 1_000_000));
  assert.throws(() => donorIndex(1, "t", 1, 0), /no candidates/);
});

const fnTask = (entryPoint: string, language: FunctionTask["language"]): FunctionTask => ({
  kind: "function",
  id: "f",
  set: "s",
  language,
  prompt: "",
  entryPoint,
  publicTests: [{ kind: "assert", code: "assert f() == 1" }],
  privateTests: [],
  limits: DEFAULT_LIMITS,
});

test("the fixed wrong program prints nothing or returns None / undefined", () => {
  assert.equal(fixedWrongProgram(stdio("x", 1)), "# prints nothing\npass\n");
  assert.equal(fixedWrongProgram(fnTask("add", "python")), "def add(*args, **kwargs):\n    return None\n");
  assert.equal(
    fixedWrongProgram(fnTask("Solution().twoSum", "python")),
    "class Solution:\n    def twoSum(self, *args, **kwargs):\n        return None\n",
  );
  assert.equal(fixedWrongProgram(fnTask("add", "javascript")), "function add(...args) {\n  return undefined;\n}\n");
  assert.equal(fixedWrongProgram(fnTask("add", "typescript")), "function add(...args: any[]): any {\n  return undefined;\n}\n");
});

function stdio(id: string, n: number): StdioTask {
  return {
    kind: "stdio",
    id,
    set: "toy",
    language: "python",
    statement: `Print ${n}.`,
    publicTests: [{ input: `in-${id}\n`, output: `${n}\n` }],
    privateTests: [],
    checker: { mode: "tokens" },
    limits: DEFAULT_LIMITS,
  };
}

let sandbox: Sandbox;
before(async () => {
  sandbox = await createSandbox({ workers: 2 });
});
after(async () => {
  await sandbox.dispose();
});
const run: RunTestsFn = (task, code, which) => runTests(task, code, { sandbox, which });

const set = ["a", "b", "c", "d", "e"].map((id, i) => stdio(id, i + 1));

test("donor feedback comes from another task of the set and is the same on a fresh donor (another server)", async () => {
  const one = new RandomFeedbackDonor(set, run);
  const two = new RandomFeedbackDonor([...set].reverse(), run);
  for (const turn of [1, 2, 3]) {
    const x = await one.feedbackFor(set[0], 42, turn);
    const y = await two.feedbackFor(set[0], 42, turn);
    assert.deepEqual(x, y);
    assert.notEqual(x.donorTaskId, "a");
    assert.match(x.feedback, new RegExp(`Input:\\nin-${x.donorTaskId}\\nExpected output:\\n\\d\\nYour output:\\n\\(no output\\)`));
  }
});

test("a set with no other task cannot give random feedback, and the episode refuses it up front", async () => {
  const lonely = new RandomFeedbackDonor([set[0], { ...set[1], set: "another-set" }], run);
  assert.equal(lonely.hasDonorsFor(set[0]), false);
  await assert.rejects(lonely.feedbackFor(set[0], 1, 1), /no other task with public tests/);
  assert.throws(() => new Episode(set[0], { runTests: run, randomFeedback: lonely }), /no other task with public tests/);
});

test("under the ablation the episode shows donor feedback but still stops on the true public tests", async () => {
  const ep = new Episode(set[0], { runTests: run, seed: 9, randomFeedback: new RandomFeedbackDonor(set, run) });
  ep.reset();
  const r1 = await ep.step("```python\nprint(0)\n```");
  assert.ok(r1.info.donorTaskId && r1.info.donorTaskId !== "a");
  assert.doesNotMatch(r1.observation.messages[0].content, /in-a/);
  assert.match(r1.observation.messages[0].content, new RegExp(`in-${r1.info.donorTaskId}`));
  assert.equal(r1.results[0].input, "in-a\n", "the true results are still reported");
  const r2 = await ep.step("```python\nprint(1)\n```");
  assert.deepEqual([r2.done, r2.reward, r2.info.stopReason], [true, 1, "public-tests-passed"]);
});
