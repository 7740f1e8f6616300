// The APPS call-based loader (set `apps_call`): argument recovery from MapCoder's line-per-argument text,
// public/private splits, malformed records reported with file and line, and known-answer programs judged
// through the real sandbox.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox } from "../../../server/env/sandbox";
import type { Sandbox } from "../../../server/env/sandbox/types";
import { runTests } from "../../../server/env/run";
import {
  answerTableProgram,
  appsCallKnownAnswerPrograms,
  appsComparisonPreamble,
  changeOneToken,
  loadAppsCallBased,
  parseArgumentLine,
  parseStarterSignature,
} from "../../../server/env/tasks/apps-call-based";
import { stringifyNode } from "../../../server/env/tasks/lossless-json";
import { parsePythonLiteral } from "../../../server/env/tasks/python-literal";
import type { FunctionTask } from "../../../server/env/types";
import { resolveBenchmarksRoot } from "../../../server/env/verify/benchmarks-root";

let dir: string;
let sandbox: Sandbox;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "apps-call-"));
  sandbox = await createSandbox();
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await sandbox.dispose();
});

function record(fields: Record<string, unknown>): string {
  return JSON.stringify({ id: 1, name: "1", difficulty: "introductory", description: "Add.", starter_code: "\ndef add(a, b):\n\t", sample_io: [], test_list: [], ...fields });
}

async function loadLines(lines: string[]) {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.jsonl`);
  await writeFile(file, `${lines.join("\n")}\n`);
  return { file, ...(await loadAppsCallBased(dir, file)) };
}

describe("Python literals", () => {
  test("tuples, sets, dicts, None/True, escapes and big ints become tagged JSON without loss", () => {
    assert.equal(stringifyNode(parsePythonLiteral("[(1, 'a'), {2, 3}, {'k': None}, True, (), (5,), (6)]")), '[{"$tuple":[1,"a"]},{"$set":[2,3]},{"$dict":[["k",null]]},true,{"$tuple":[]},{"$tuple":[5]},6]');
    assert.equal(stringifyNode(parsePythonLiteral("-123456789012345678901234567890")), "-123456789012345678901234567890");
    assert.equal(stringifyNode(parsePythonLiteral("'it\\'s\\n' ")), JSON.stringify("it's\n"));
    assert.equal(stringifyNode(parsePythonLiteral("[1., .5, 2e3]")), "[1.0,0.5,2e3]");
  });
  test("malformed literals are refused with a position", () => {
    for (const bad of ["[1, 2", "'abc", "foo", "012", "[1 2]", "{1: }", "1 2", ""]) {
      assert.throws(() => parsePythonLiteral(bad), /column \d+/, bad);
    }
  });
  test("an argument line is JSON first, then Python, else raw text (null)", () => {
    assert.equal(stringifyNode(parseArgumentLine("9007199254740993")!), "9007199254740993");
    assert.equal(stringifyNode(parseArgumentLine("{\"$set\": 1}")!), '{"$dict":[["$set",1]]}');
    assert.equal(stringifyNode(parseArgumentLine("['a', 'b']")!), '["a","b"]');
    assert.equal(parseArgumentLine("Apple Banana"), null);
  });
});

describe("starter signatures", () => {
  test("names, parameters and defaults", () => {
    assert.deepEqual(parseStarterSignature("\ndef converter(n, decimals=0, base=pi):\n\t"), { name: "converter", params: ["n", "decimals", "base"], required: 1 });
  });
  test("class starters, variadics and missing defs are refused", () => {
    assert.throws(() => parseStarterSignature("class Solution:\n    def f(self, x):"), /class-based/);
    assert.throws(() => parseStarterSignature("def f(*args):"), /variadic/);
    assert.throws(() => parseStarterSignature("x = 1"), /no "def name/);
  });
});

describe("loading records", () => {
  test("sample_io is public, test_list private; string positions, multi-line strings and big ints", async () => {
    const { tasks, errors } = await loadLines([
      record({
        starter_code: "def strip(text, markers):\n",
        sample_io: [{ input: "a #b\nc\n['#']", output: ["a\nc"] }],
        test_list: [
          { input: "a #b\nc\n['#']", output: ["a\nc"] },
          { input: "12\n['!']", output: ["12"] },
          { input: "x\n[123456789012345678901]", output: [[1, 2]] },
        ],
      }),
      record({ id: 2, starter_code: "def f(n):", sample_io: [], test_list: [{ input: "5", output: [5] }] }),
      record({ id: 3, starter_code: "", test_list: [{ input: "1\n", output: ["1\n"] }] }),
    ]);
    assert.deepEqual(errors, []);
    assert.equal(tasks.length, 2);
    const [t, u] = tasks as FunctionTask[];
    assert.equal(t.id, "apps/1");
    assert.equal(t.publicTests.length, 1);
    assert.equal(t.privateTests.length, 3);
    assert.deepEqual(t.privateTests, [
      { kind: "call", argsJson: '["a #b\\nc",["#"]]', expectedJson: '"a\\nc"' },
      // "12" stays text: another test has text in that position.
      { kind: "call", argsJson: '["12",["!"]]', expectedJson: '"12"' },
      { kind: "call", argsJson: '["x",[123456789012345678901]]', expectedJson: "[1,2]" },
    ]);
    assert.equal(t.flags, undefined);
    assert.deepEqual(u.flags, ["no-public-tests"]);
    assert.deepEqual(u.privateTests, [{ kind: "call", argsJson: "[5]", expectedJson: "5" }]);
  });

  test("the statement's example calls decide ambiguous positions: a number makes them mixed, a quoted string text", async () => {
    const { tasks, errors } = await loadLines([
      record({
        description: "Return the factors: `factors(54)` should return `[54, 27, 18, 9, 6, 3, 2, 1]`.",
        starter_code: "def factors(x):",
        test_list: [{ input: "54", output: [[54, 27]] }, { input: "a", output: [-1] }, { input: "4.5", output: [-1] }],
      }),
      record({
        id: 2,
        description: 'Example: is_polydivisible("1232", 10) returns True; is_polydivisible(n, b) in general.',
        starter_code: "def is_polydivisible(s, b):",
        test_list: [{ input: "1232\n10", output: [true] }],
      }),
    ]);
    assert.deepEqual(errors, []);
    const [mixed, text] = tasks as FunctionTask[];
    assert.deepEqual(mixed.privateTests.map((c) => (c.kind === "call" ? c.argsJson : "")), ["[54]", '["a"]', "[4.5]"]);
    assert.deepEqual(text.privateTests.map((c) => (c.kind === "call" ? c.argsJson : "")), ['["1232",10]']);
  });

  test("without sample_io, the statement's `name(args) == result` examples become the public tests", async () => {
    const { tasks } = await loadLines([
      record({
        description: "Examples:\n```\nadd(1, 2) == 3\nadd([1], [2]) => [1, 2]\n```\n`add('a', 'b')` should return `'ab'`.\nadd(x, y) == the sum\nadd(1) == 1",
        test_list: [{ input: "1\n2", output: [3] }],
      }),
    ]);
    const [t] = tasks as FunctionTask[];
    assert.deepEqual(t.publicTests, [
      { kind: "call", argsJson: "[1,2]", expectedJson: "3" },
      { kind: "call", argsJson: "[[1],[2]]", expectedJson: "[1,2]" },
      { kind: "call", argsJson: '["a","b"]', expectedJson: '"ab"' },
    ]);
    assert.equal(t.flags, undefined);
  });

  test("tests that give one argument list two answers flag the task", async () => {
    const { tasks } = await loadLines([
      record({ sample_io: [{ input: "1\n2", output: [3] }], test_list: [{ input: "1\n2", output: [4] }] }),
    ]);
    assert.deepEqual(tasks[0].flags, ["contradictory-tests"]);
  });

  test("a repeated record is kept under a distinct id and flagged", async () => {
    const line = record({ sample_io: [{ input: "1\n2", output: [3] }], test_list: [{ input: "1\n2", output: [3] }] });
    const { tasks } = await loadLines([line, line]);
    assert.deepEqual(tasks.map((t) => [t.id, t.flags]), [["apps/1", undefined], ["apps/1#2", ["duplicate-record"]]]);
  });

  test("malformed records are reported with file and line, the others still load", async () => {
    const { file, tasks, errors } = await loadLines([
      record({ test_list: [{ input: "1\n2", output: [3] }] }),
      "{not json",
      record({ id: 3, test_list: [{ input: "1\n2", output: [3, 4] }] }),
      record({ id: 4, test_list: [{ input: "1", output: [3] }] }),
      record({ id: 5, test_list: [{ input: "a\nb\nc", output: [3] }] }),
      record({ id: 6, starter_code: "class Solution:\n    def f(self):", test_list: [{ input: "1", output: [1] }] }),
      record({ id: 7, test_list: [] }),
      record({ id: 8, test_list: [{ input: 5, output: [1] }] }),
    ]);
    assert.equal(tasks.length, 1);
    assert.deepEqual(errors.map((e) => [e.file, e.line]), [[file, 2], [file, 3], [file, 4], [file, 5], [file, 6], [file, 7], [file, 8]]);
    assert.match(errors[0].message, /malformed JSON/);
    assert.match(errors[1].message, /exactly one value/);
    assert.match(errors[2].message, /needs 2 arguments/);
    assert.match(errors[3].message, /3 lines for 2 parameters/);
    assert.match(errors[4].message, /class-based/);
    assert.match(errors[5].message, /test_list" is empty/);
    assert.match(errors[6].message, /input must be a string/);
  });

  test("the real file: 98 call-based tasks, public = sample_io, private = test_list", async () => {
    const { tasks, errors } = await loadAppsCallBased(resolveBenchmarksRoot());
    assert.deepEqual(errors, []);
    const fn = tasks as FunctionTask[];
    assert.equal(fn.length, 98);
    assert.equal(fn.reduce((n, t) => n + t.publicTests.length, 0), 314);
    assert.equal(fn.reduce((n, t) => n + t.privateTests.length, 0), 1210);
    assert.equal(fn.filter((t) => t.flags?.includes("no-public-tests")).length, 13);
    assert.equal(fn.filter((t) => t.flags?.includes("duplicate-record")).length, 19);
    assert.equal(new Set(fn.map((t) => t.id)).size, 98);
    // apps/1640's sample_io gives one input two answers (see verify-exclusions.json).
    assert.deepEqual(fn.filter((t) => t.flags?.includes("contradictory-tests")).map((t) => t.id), ["apps/1640", "apps/1640#2"]);
  });
});

describe("judging through the sandbox", () => {
  const task = (): FunctionTask => ({
    kind: "function",
    id: "apps/t",
    set: "apps_call",
    language: "python",
    prompt: "",
    entryPoint: "pair",
    testPreamble: undefined,
    publicTests: [{ kind: "call", argsJson: "[1,2]", expectedJson: "[1,2]" }],
    privateTests: [
      { kind: "call", argsJson: "[3,4]", expectedJson: "[3,4]" },
      { kind: "call", argsJson: "[9007199254740993,0]", expectedJson: "[9007199254740993,0]" },
    ],
    limits: { timeMs: 10_000, memoryBytes: 1024 ** 3 },
  });

  test("known answers pass; a changed answer and a list-wrapped answer fail", async () => {
    const t = { ...task(), testPreamble: appsComparisonPreamble("pair") };
    const programs = appsCallKnownAnswerPrograms(t);
    assert.deepEqual(programs.map((p) => [p.label, p.mustPass]), [
      ["known answer", true],
      ["known answer with one token changed (test 1)", false],
      ["known answer wrapped in a list", false],
    ]);
    for (const p of programs) {
      const report = await runTests(t, p.code, { sandbox, which: "all" });
      assert.equal(report.passed, p.mustPass, `${p.label}: ${JSON.stringify(report.results)}`);
    }
  });

  test("APPS's tuple rule: a tuple compares as a list, recursion reaches the candidate unchanged", async () => {
    const t = { ...task(), testPreamble: appsComparisonPreamble("pair") };
    const tuple = "def pair(a, b, depth=0):\n    if depth == 0:\n        inner = pair(a, b, 1)\n        assert isinstance(inner, tuple)\n        return inner\n    return (a, b)\n";
    assert.equal((await runTests(t, tuple, { sandbox, which: "all" })).passed, true);
    // Without the preamble the harness compares a tuple with a list as unequal: the preamble is what passes it.
    assert.equal((await runTests(task(), tuple, { sandbox, which: "all" })).passed, false);
  });

  test("changeOneToken changes exactly one token of each kind", () => {
    assert.equal(changeOneToken("9007199254740993"), "9007199254740994");
    assert.equal(changeOneToken("true"), "false");
    assert.equal(changeOneToken('"a"'), '"ax"');
    assert.equal(changeOneToken("0.6"), "1.6");
    assert.equal(changeOneToken("[1]"), "[1,0]");
    assert.equal(changeOneToken('{"$dict":[]}'), '{"$dict":[["$changed",0]]}');
    assert.equal(changeOneToken("null"), "0");
  });

  test("a table program without an answer for the arguments raises", async () => {
    const report = await runTests(task(), answerTableProgram("pair", [["[1,2]", "[1,2]"]]), { sandbox, which: "all" });
    assert.equal(report.passed, false);
    assert.equal(report.results.find((r) => r.index === 0 && r.visibility === "private")?.outcome, "exception");
  });
});
