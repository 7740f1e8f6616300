// The JS/TS benchmark loaders, the test-program splitter and the JS mutation rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DATASET_ERROR, jsDatasetError, jsSets, knownAnswerFunctionPrograms, mutateJsOneToken, splitTestProgram } from "../../../server/env/tasks/js-sets";
import type { FunctionTask } from "../../../server/env/types";

const BENCHMARKS = join(__dirname, "..", "..", "..", "..", "shared", "benchmarks");

async function load(name: string): Promise<FunctionTask[]> {
  const set = jsSets.find((s) => s.name === name);
  assert.ok(set, name);
  const { tasks, errors } = await set.load(BENCHMARKS);
  assert.deepEqual(errors, []);
  return tasks as FunctionTask[];
}

test("every set loads all its records with no private tests", async () => {
  const counts: Record<string, number> = { humaneval_x_js: 164, multipl_e_js: 161, multipl_e_ts: 159, exercism_js: 49 };
  for (const [name, count] of Object.entries(counts)) {
    const tasks = await load(name);
    assert.equal(tasks.length, count, name);
    assert.ok(tasks.every((t) => t.privateTests.length === 0 && t.publicTests.length > 0), name);
  }
  assert.ok(jsSets.every((s) => s.trainable === false), "none of these sets is in the spec's trainable list");
});

test("HumanEval-X: throwing console.assert, reference = prompt + canonical solution, documented errors flagged", async () => {
  const tasks = await load("humaneval_x_js");
  const first = tasks[0];
  assert.match(first.testPreamble ?? "", /console\.assert = /);
  assert.ok(first.referenceSolution?.startsWith(first.prompt));
  assert.equal(first.entryPoint, "hasCloseElements");
  const flagged = tasks.filter((t) => t.flags?.includes(DATASET_ERROR)).map((t) => t.id);
  assert.deepEqual(flagged, ["JavaScript/112", "JavaScript/155", "JavaScript/162"]);
  assert.ok(flagged.every((id) => (jsDatasetError("humaneval_x_js", id) ?? "").length > 0));
});

test("MultiPL-E: entry point from `let candidate`, no references, TS tests split like JS", async () => {
  const js = await load("multipl_e_js");
  const ts = await load("multipl_e_ts");
  assert.ok(js.every((t) => t.referenceSolution === undefined));
  assert.equal(ts.find((t) => t.id === "HumanEval_23_strlen")?.entryPoint, "strlen");
  assert.ok(ts.every((t) => t.language === "typescript" && t.publicTests.every((c) => c.kind === "assert")));
  assert.deepEqual(js.filter((t) => t.flags?.includes(DATASET_ERROR)).map((t) => t.id), ["HumanEval_51_remove_vowels", "HumanEval_92_any_int"]);
  assert.deepEqual(ts.filter((t) => t.flags?.includes(DATASET_ERROR)).map((t) => t.id), ["HumanEval_92_any_int"]);
});

test("Exercism: one solution file, un-skipped specs, fixtures, the example solution as reference", async () => {
  const tasks = await load("exercism_js");
  for (const t of tasks) {
    assert.ok(t.solutionFile?.endsWith(".js"));
    assert.ok(Object.values(t.testFiles ?? {}).every((spec) => !/\bxtest\(/.test(spec)));
    assert.ok(t.referenceSolution);
  }
  const grep = tasks.find((t) => t.id === "javascript/grep");
  assert.ok(Object.keys(grep?.supportFiles ?? {}).includes("data/iliad.txt"));
});

test("hostile Exercism records are errors with their line: unsafe paths, missing specs", async () => {
  const root = await mkdtemp(join(tmpdir(), "js-sets-"));
  try {
    const good = { id: "javascript/x", instructions: "i", solution_files: { "x.js": "" }, test_files: { "x.spec.js": "xtest('a', () => {})" }, example_solution_files: { ".meta/proof.ci.js": "export {}" } };
    const lines = [
      JSON.stringify(good),
      JSON.stringify({ ...good, support_files: { "../../etc/passwd": "x" } }),
      JSON.stringify({ ...good, solution_files: { "/abs.js": "" } }),
      JSON.stringify({ ...good, test_files: {} }),
      JSON.stringify({ ...good, solution_files: { "x.js": 5 } }),
    ];
    await mkdir(join(root, "exercism_js_polyglot"));
    await writeFile(join(root, "exercism_js_polyglot", "polyglot-javascript.jsonl.gz"), gzipSync(lines.join("\n")));
    const set = jsSets.find((s) => s.name === "exercism_js");
    const { tasks, errors } = await set!.load(root);
    assert.equal(tasks.length, 1);
    assert.deepEqual(errors.map((e) => e.line), [2, 3, 4, 5]);
    assert.match(errors[0].message, /unsafe file name/);
    assert.match(errors[2].message, /no Jest spec/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a flat test function splits into one block per assert, setup repeated in each", () => {
  const program = "const assert = require('node:assert');\nfunction test() {\n  let candidate = f;\n  assert.deepEqual(candidate(1), 2);\n  assert.deepEqual(candidate(\n    3), 4);\n}\ntest();\n";
  const split = splitTestProgram(program, "javascript");
  assert.equal(split.cases.length, 2);
  assert.deepEqual(split.cases[1], { kind: "assert", code: "{ const assert = require('node:assert'); let candidate = f;\nassert.deepEqual(candidate(\n    3), 4);\n}\n" });
});

test("a test program with loops or statements between asserts runs as one script", () => {
  const loop = "function test() {\n  assert(f(1));\n  let x = 2;\n  assert(f(x));\n}\ntest();\n";
  assert.deepEqual(splitTestProgram(loop, "javascript").cases.map((c) => c.kind), ["script"]);
  const twoFunctions = "const a = () => { assert(1) }\nconst b = () => { assert(2) }\na()\nb()\n";
  assert.deepEqual(splitTestProgram(twoFunctions, "javascript").cases.map((c) => c.kind), ["script"]);
  const noCall = "function test() { assert(1); }\n";
  assert.equal(splitTestProgram(noCall, "javascript").asserts, null);
  assert.match((splitTestProgram("declare var require: any;\nfunction test() { for (;;) {} }\ntest();", "typescript").cases[0] as { code: string }).code, /^\{\nfunction test/, "declare statements are dropped");
});

test("the JS mutant follows its rules in order, on the syntax tree", () => {
  assert.equal(mutateJsOneToken("// a < b\nconst s = '<';\nconst r = /a>b/;\nconst f = (x) => x === 1;\n", "javascript")?.label, "mutant: '===' -> '!==' at line 4");
  assert.equal(mutateJsOneToken("const f = (a, b) => a * b;", "javascript")?.code, "const f = (a, b) => a / b;");
  assert.equal(mutateJsOneToken("const f = () => [0].length;", "javascript")?.code, "const f = () => [1].length;");
  assert.equal(mutateJsOneToken("const f = (s) => s.join(' ');", "javascript")?.code, "const f = (s) => s.join(' x');");
  assert.equal(mutateJsOneToken("const f = (s) => { return s.length; };", "javascript")?.code, "const f = (s) => { return void s.length; };");
  assert.equal(mutateJsOneToken("function f(a: Array<number>): number { return a.length > 0 ? 1 : 2; }", "typescript")?.label, "mutant: '>' -> '<=' at line 1");
  assert.equal(mutateJsOneToken("export {};", "javascript"), null);
});

test("known-answer function programs need the assert.deepEqual(candidate(...), expected) shape", () => {
  const program = "const assert = require('node:assert');\nfunction test() {\n  let candidate = f;\n  assert.deepEqual(candidate([1, 2]), [3]);\n}\ntest();\n";
  const programs = knownAnswerFunctionPrograms("f", program, "javascript");
  assert.deepEqual(programs.map((p) => [p.label, p.mustPass]), [["known answer", true], ["known answer with one token changed (test 1)", false]]);
  assert.match(programs[0].code, /\[\[\[1, 2\]\], \[3\]\]/);
  assert.deepEqual(knownAnswerFunctionPrograms("f", "function test() {\n  assert.ok(true);\n}\ntest();\n", "javascript"), []);
});

test("the JS mutant skips loop conditions", () => {
  const code = "function f(n) {\n  for (let i = 0; i < n; i++) {}\n  while (n > 0) n--;\n  return n === 0;\n}\n";
  assert.equal(mutateJsOneToken(code, "javascript")?.label, "mutant: '===' -> '!==' at line 4");
});
