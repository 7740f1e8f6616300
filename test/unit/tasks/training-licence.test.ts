// Which tasks of a built-in set may be trained on: the set's licence, and per task for a "partly" set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { builtInSets } from "../../../server/env/tasks/registry";
import { trainableTasks, type BenchmarkSet, type TrainingLicence } from "../../../server/env/tasks/set";

function toySet(licence: TrainingLicence): BenchmarkSet {
  return { name: "toy", file: "toy.jsonl", ...licence, load: async () => ({ tasks: [], errors: [] }), verificationPrograms: () => [] };
}
const ids = ["toy/1", "toy/2", "toy/3"];

test("a trainable set's tasks are all trainable; an untrainable set's none", async () => {
  assert.deepEqual([...(await trainableTasks(toySet({ trainable: true }), ids, "/unused")).values()], [true, true, true]);
  assert.deepEqual([...(await trainableTasks(toySet({ trainable: false }), ids, "/unused")).values()], [false, false, false]);
});

test("a partly trainable set decides per task, by its own rule, given the benchmarks root", async () => {
  const roots: string[] = [];
  const set = toySet({
    trainable: "partly",
    excludedFromTraining: async (root) => {
      roots.push(root);
      return new Set(["toy/2", "toy/99"]);
    },
  });
  const trainable = await trainableTasks(set, ids, "/benchmarks");
  assert.deepEqual([...trainable], [["toy/1", true], ["toy/2", false], ["toy/3", true]]);
  assert.deepEqual(roots, ["/benchmarks"]);
});

test("a partly trainable set without a rule does not compile, and every built-in one has its rule", () => {
  // @ts-expect-error a "partly" licence must say which tasks are excluded from training
  const unruled: TrainingLicence = { trainable: "partly" };
  assert.equal(unruled.trainable, "partly");
  const partly = builtInSets.filter((s) => s.trainable === "partly");
  assert.deepEqual(partly.map((s) => s.name), ["mbpp"]);
  for (const set of partly) assert.equal(typeof (set as { excludedFromTraining?: unknown }).excludedFromTraining, "function", set.name);
});
