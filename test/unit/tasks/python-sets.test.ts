// Split rules per set (spec/environment.md, "Public and private tests, per benchmark") on the real data,
// plus format recognition and malformed records on small files written here.
import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { loadPythonFunctionFile, mbppEntryPoint, pythonFunctionSets } from "../../../server/env/tasks/python-sets";
import { flatCheckAsserts, splitTopLevelStatements } from "../../../server/env/tasks/python-statements";
import { resolveBenchmarksRoot } from "../../../server/env/verify/benchmarks-root";
import type { FunctionTask, Task } from "../../../server/env/types";

const root = resolveBenchmarksRoot();
const haveData = existsSync(join(root, "humaneval"));

async function load(name: string): Promise<Map<string, FunctionTask>> {
  const set = pythonFunctionSets.find((s) => s.name === name)!;
  const { tasks, errors } = await set.load(root);
  assert.deepEqual(errors, [], `${name} loads without record errors`);
  return new Map(tasks.map((t: Task) => [t.id, t as FunctionTask]));
}

describe("built-in Python sets on the benchmark data", { skip: !haveData && `no benchmarks at ${root}` }, () => {
  let humaneval: Map<string, FunctionTask>;
  let humanevalPlus: Map<string, FunctionTask>;
  let mbpp: Map<string, FunctionTask>;
  let mbppPlus: Map<string, FunctionTask>;
  let leetcode: Map<string, FunctionTask>;
  before(async () => {
    [humaneval, humanevalPlus, mbpp, mbppPlus, leetcode] = await Promise.all(
      ["humaneval", "humaneval_plus", "mbpp", "mbpp_plus", "leetcode"].map(load),
    );
  });

  test("record counts match the dataset READMEs", () => {
    assert.deepEqual([humaneval.size, humanevalPlus.size, mbpp.size, mbppPlus.size, leetcode.size], [164, 164, 974, 399, 180]);
  });

  test("HumanEval: a flat check() becomes one public assert per line, no private tests", () => {
    const t = humaneval.get("HumanEval/0")!;
    assert.equal(t.publicTests.length, 7);
    assert.deepEqual(t.publicTests[0], { kind: "assert", code: "assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True" });
    assert.equal(t.privateTests.length, 0);
    assert.equal(t.referenceSolution, t.prompt + t.referenceSolution!.slice(t.prompt.length));
    assert.match(t.testPreamble!, /def check\(candidate\):/);
  });

  test("HumanEval: a check() with loops or randomness runs as written, as one script", () => {
    const t = humaneval.get("HumanEval/32")!;
    assert.equal(t.publicTests.length, 1);
    assert.equal(t.publicTests[0].kind, "script");
    assert.match(t.publicTests[0].kind === "script" ? t.publicTests[0].code : "", /rng = random\.Random\(42\)[\s\S]*check\(candidate\)\n$/);
  });

  test("HumanEval+: check() public; plus inputs private as call cases whose arguments keep big integers exactly", () => {
    const t = humanevalPlus.get("HumanEval/22")!;
    assert.deepEqual(t.publicTests, humaneval.get("HumanEval/22")!.publicTests);
    assert.ok(t.privateTests.every((c) => c.kind === "call" && c.expectedJson === undefined));
    const big = t.privateTests[597];
    assert.equal(big.kind, "call");
    assert.match(big.kind === "call" ? big.argsJson : "", /99999999999999999999999/);
    assert.deepEqual(humanevalPlus.get("HumanEval/32")!.comparison, { atol: 0.0001, rule: "find-zero" });
    assert.deepEqual(humanevalPlus.get("HumanEval/0")!.comparison, { atol: 0 });
  });

  test("MBPP: the first assert is public; the others and challenge_test_list are private", () => {
    const t = mbpp.get("mbpp/11")!;
    assert.equal(t.publicTests.length, 1);
    assert.equal(t.privateTests.length, 2 + 2); // two more asserts, two challenge asserts
    assert.equal(t.entryPoint, "remove_Occ");
    assert.match(t.prompt, /Your code should pass this test:\nassert remove_Occ/);
  });

  test("MBPP: ids in MBPP+ are evaluation-only, the rest trainable", () => {
    assert.deepEqual(mbpp.get("mbpp/2")!.flags, ["evaluation-only"]);
    assert.equal(mbpp.get("mbpp/1")!.flags, undefined);
    assert.equal(pythonFunctionSets.find((s) => s.name === "mbpp")!.trainable, "partly");
    for (const name of ["humaneval", "humaneval_plus", "mbpp_plus", "leetcode"]) {
      assert.equal(pythonFunctionSets.find((s) => s.name === name)!.trainable, false, name);
    }
  });

  test("MBPP: the tasks excluded from training are those whose number is in MBPP+, the evaluation-only ones", async () => {
    const set = pythonFunctionSets.find((s) => s.name === "mbpp")!;
    assert.ok(set.trainable === "partly");
    const excluded = [...(await set.excludedFromTraining(root))].sort();
    assert.deepEqual(excluded, [...mbppPlus.keys()].map((id) => id.replace(/^Mbpp\//, "mbpp/")).sort());
    assert.deepEqual(excluded, [...mbpp.values()].filter((t) => t.flags?.includes("evaluation-only")).map((t) => t.id).sort());
    assert.equal(excluded.length, 399);
  });

  test("MBPP+: first base assert public; other base asserts and the plus inputs private", () => {
    const t = mbppPlus.get("Mbpp/3")!;
    assert.deepEqual(t.publicTests, [{ kind: "assert", code: "assert is_not_prime(1) == True" }]);
    assert.equal(t.privateTests.filter((c) => c.kind === "assert").length, 4);
    assert.ok(t.privateTests.slice(4).every((c) => c.kind === "call"));
  });

  test("MBPP+: Mbpp/404's Infinity inputs load; per-task types are restored as tagged tuples", () => {
    const inf = mbppPlus.get("Mbpp/404")!.privateTests.filter((c) => c.kind === "call" && c.argsJson.includes("Infinity"));
    assert.ok(inf.length > 0);
    const first = mbppPlus.get("Mbpp/2")!.publicTests[0];
    assert.deepEqual(first, { kind: "call", argsJson: '[{"$tuple":[3,4,5,6]},{"$tuple":[5,7,4,10]}]' });
    assert.match(mbppPlus.get("Mbpp/77")!.privateTests.find((c) => c.kind === "call")!.kind, /call/);
  });

  test("MBPP+: EvalPlus's order-insensitive and not-None oracles are attached to the right tasks", () => {
    const setTasks = [...mbppPlus.values()].filter((t) => t.comparison?.rule === "set").map((t) => t.id);
    assert.deepEqual(setTasks.sort(), ["Mbpp/111", "Mbpp/140", "Mbpp/2", "Mbpp/232", "Mbpp/249", "Mbpp/579", "Mbpp/7", "Mbpp/769"].sort());
    const notNone = [...mbppPlus.values()].filter((t) => t.comparison?.rule === "not-none").map((t) => t.entryPoint);
    assert.deepEqual(notNone.sort(), ["check_str", "text_match_three", "text_starta_endb"].filter((n) => notNone.includes(n)).sort());
    assert.ok(notNone.length >= 1);
  });

  test("LeetCode: first 3 asserts public, the rest private, Solution() built after the candidate", () => {
    const t = leetcode.get("weekly-contest-381-minimum-number-of-pushes-to-type-word-i")!;
    assert.equal(t.publicTests.length, 3);
    assert.equal(t.privateTests.length, 97);
    assert.equal(t.entryPoint, "minimumPushes");
    assert.match(t.testPreamble!, /my_solution = Solution\(\)/);
    assert.match(t.candidatePrelude!, /from typing import \*/);
    assert.match(t.publicTests[0].kind === "assert" ? t.publicTests[0].code : "", /^test_input = \{ "word": "abcde" \}\nassert my_solution/);
  });
});

describe("files and formats", () => {
  const humanEvalShape = {
    task_id: "X/0",
    prompt: "def f(x):\n",
    entry_point: "f",
    canonical_solution: "    return x\n",
    test: "def check(candidate):\n    assert candidate(1) == 1\n",
  };

  test("a HumanEval-shaped file needs its format given (HumanEval and OriginFmt share a shape)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rlef-sets-"));
    const file = join(dir, "he.jsonl.gz");
    await writeFile(file, gzipSync(JSON.stringify(humanEvalShape) + "\n"));
    await assert.rejects(loadPythonFunctionFile(file), /--format/);
    const asHumanEval = await loadPythonFunctionFile(file, "humaneval");
    assert.equal((asHumanEval.tasks[0] as FunctionTask).publicTests.length, 1);
    const asOrigin = await loadPythonFunctionFile(file, "humaneval_plus_originfmt");
    assert.deepEqual((asOrigin.tasks[0] as FunctionTask).flags, ["no-public-tests"]);
  });

  test("malformed and incomplete records are reported with file and line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rlef-sets-"));
    const file = join(dir, "mbpp.jsonl");
    const good = { task_id: 5, text: "t", code: "def g(a):\n    return a\n", test_list: ["assert g(1) == 1"], test_setup_code: "", challenge_test_list: [] };
    const lines = [JSON.stringify(good), "{oops", JSON.stringify({ ...good, test_list: "assert g(1) == 1" }), JSON.stringify({ ...good, test_list: [] })];
    await writeFile(file, lines.join("\n"));
    const { tasks, errors } = await loadPythonFunctionFile(file, "mbpp");
    assert.equal(tasks.length, 1);
    assert.deepEqual(errors.map((e) => [e.file, e.line]), [[file, 2], [file, 3], [file, 4]]);
    assert.match(errors[1].message, /"test_list" must be an array/);
    assert.match(errors[2].message, /"test_list" is empty/);
  });

  test("MBPP's entry point is the defined function the first assert calls", () => {
    assert.equal(mbppEntryPoint("def similar_elements(a, b):\n  pass\n", "assert set(similar_elements((3, 4),(5, 4))) == set((4,))"), "similar_elements");
    assert.equal(mbppEntryPoint("import math\ndef area(r):\n  return r\n", "assert math.isclose(area(2), 2)"), "area");
    assert.throws(() => mbppEntryPoint("x = 1\n", "assert x == 1"), /cannot tell which function/);
  });

  test("a check() split keeps multi-line asserts whole and refuses compound bodies", () => {
    const flat = "def check(candidate):\n    assert candidate([1,\n        2]) == 3, 'msg (with brackets'\n    # a comment\n    assert candidate(')') == ')'\n";
    assert.deepEqual(flatCheckAsserts(flat), ["assert candidate([1,\n    2]) == 3, 'msg (with brackets'", "assert candidate(')') == ')'"]);
    const looped = "def check(candidate):\n    for x in range(3):\n        assert candidate(x) == x\n";
    assert.equal(flatCheckAsserts(looped), null);
    const mixed = "def check(candidate):\n    import math\n    assert candidate(1) == 1\n";
    assert.equal(flatCheckAsserts(mixed), null);
    assert.deepEqual(splitTopLevelStatements(['x = """a', "  b", '"""', "y = 2"])?.map((s) => s.text), ['x = """a\n  b\n"""', "y = 2"]);
  });
});
