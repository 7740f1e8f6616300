// The programs `rlef verify` runs: the one-rule mutant and the exclusion list's format and size.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { returnValueMutant } from "../../../server/env/verify/python-mutant";
import { pythonVerificationPrograms } from "../../../server/env/verify/python-programs";
import { defaultExclusionsPath, parseExclusions } from "../../../server/env/verify/exclusions";
import { JS_DATASET_ERRORS } from "../../../server/env/tasks/js-sets";
import { summarise, type TaskVerification } from "../../../server/env/verify/run-verify";
import type { FunctionTask } from "../../../server/env/types";

test("the mutant replaces every return value of the entry point, and only of the entry point", () => {
  const reference = [
    "def helper(x):",
    "    return x + 1",
    "def f(xs):",
    '    """Docs: return the sum. return"""',
    "    def inner(y):",
    "        return y * 2",
    "    if not xs: return 0",
    "    total = sum(inner(x) for x in xs)",
    "    return (total +",
    "            1)",
    "g = 1",
  ].join("\n");
  const m = returnValueMutant(reference, "f");
  assert.deepEqual(m.code.split("\n"), [
    "def helper(x):",
    "    return x + 1",
    "def f(xs):",
    '    """Docs: return the sum. return"""',
    "    def inner(y):",
    "        return y * 2",
    "    if not xs: return None if True else 0",
    "    total = sum(inner(x) for x in xs)",
    "    return None if True else (total +",
    "            1)",
    "g = 1",
  ]);
  assert.match(m.description, /lines 7, 9/);
});

test("a bare return becomes a non-None value; a function without return gets a result wrapper", () => {
  assert.match(returnValueMutant("def f(a):\n    a.sort()\n    return\n", "f").code, /return "<mutant>"/);
  const wrapped = returnValueMutant("f = lambda x: x + 1\n", "f");
  assert.match(wrapped.code, /_rlef_original_f = f\ndef f\(\*args, \*\*kwargs\):/);
  assert.match(wrapped.description, /wrapper/);
});

test("special-oracle tasks get a correct-but-different program that must pass", () => {
  const base: FunctionTask = {
    kind: "function", id: "t", set: "s", language: "python", prompt: "", entryPoint: "f",
    publicTests: [], privateTests: [], limits: { timeMs: 1000, memoryBytes: 1 << 28 },
    referenceSolution: "def f(x):\n    return x\n",
  };
  const labels = (rule?: "set" | "not-none" | "find-zero") =>
    pythonVerificationPrograms({ ...base, comparison: { atol: 0, rule } }).map((p) => [p.label.split(":")[0], p.mustPass]);
  assert.deepEqual(labels(), [["reference", true], ["mutant", false]]);
  assert.deepEqual(labels("set"), [["reference", true], ["mutant", false], ["permuted output", true]]);
  assert.deepEqual(labels("find-zero"), [["reference", true], ["mutant", false], ["other root", true]]);
  assert.deepEqual(pythonVerificationPrograms({ ...base, referenceSolution: undefined }), []);
});

test("malformed exclusion files are rejected with the entry at fault", () => {
  assert.throws(() => parseExclusions("{}", "x.json"), /JSON array/);
  assert.throws(() => parseExclusions("[{", "x.json"), /not valid JSON/);
  assert.throws(() => parseExclusions('[{"set": "mbpp_plus", "taskId": "Mbpp/1", "reason": "r"}]', "x.json"), /entry 0 needs a non-empty string "evidence"/);
});

// The committed exclusion list holds only real dataset errors, each with evidence. Growing it must be a
// deliberate change of this number, reviewed together with the new entry's evidence.
const EXCLUSION_COUNT = 8; // 6 MBPP+ (see the file) and apps/1640 with its duplicate (contradictory examples)
test("the exclusion list does not grow beyond the committed count", () => {
  const list = parseExclusions(readFileSync(defaultExclusionsPath(), "utf8"), "verify-exclusions.json");
  assert.ok(list.length <= EXCLUSION_COUNT, `verify-exclusions.json has ${list.length} entries; committed count is ${EXCLUSION_COUNT}`);
  for (const e of list) assert.ok(e.evidence.length > 20, `${e.taskId}: evidence must show the failing input and values`);
});

// The JavaScript sets' data errors are flagged by their loader (js-sets.ts), so they are held to a count too.
const JS_DATASET_ERROR_COUNT = 6; // HumanEval-X JS 112/155/162, MultiPL-E JS 51/92, MultiPL-E TS 92
test("the JavaScript sets' dataset-error list does not grow beyond the committed count", () => {
  const entries = Object.values(JS_DATASET_ERRORS).flatMap((perSet) => Object.values(perSet));
  assert.ok(entries.length <= JS_DATASET_ERROR_COUNT, `js-sets.ts lists ${entries.length} dataset errors; committed count is ${JS_DATASET_ERROR_COUNT}`);
  for (const evidence of entries) assert.ok(evidence.length > 40, `evidence must say what fails and why: ${evidence}`);
});

test("the summary counts excluded and skipped tasks outside the total", () => {
  const r = (taskId: string, ok: boolean, extra: Partial<TaskVerification> = {}): TaskVerification => ({
    taskId, ok, durationMs: 1, programs: [{ label: "reference", mustPass: true, passed: ok }], ...extra,
  });
  const s = summarise([r("a", true), r("b", false), r("c", false, { excludedBecause: "bad record" }), r("d", true, { skipped: true, programs: [] })]);
  assert.deepEqual({ passed: s.passed, total: s.total, excluded: s.excluded, skipped: s.skipped }, { passed: 1, total: 2, excluded: 1, skipped: 1 });
  assert.deepEqual(s.failures.map((f) => f.taskId), ["b"]);
});
