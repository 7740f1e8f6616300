// Python function-level sets: humaneval, humaneval_plus, mbpp, mbpp_plus, leetcode.
// Public/private splits follow spec/environment.md ("Public and private tests, per benchmark").
import { join } from "node:path";
import { DEFAULT_LIMITS, type FunctionComparison, type FunctionTask, type FunctionTestCase, type Task } from "../types";
import { buildRecords, readJsonl, type JsonlRecord } from "./jsonl";
import {
  arrayField,
  getField,
  numberField,
  optionalStringField,
  RecordShapeError,
  safeIntegerField,
  sourceOf,
  stringArrayField,
  stringField,
} from "./lossless-json";
import { mbppPlusArgsJson } from "./mbpp-plus-inputs";
import { flatCheckAsserts, isAssertStatement, splitTopLevelStatements } from "./python-statements";
import type { BenchmarkSet, LoadResult, TrainingLicence, VerificationProgram } from "./set";
import { pythonVerificationPrograms } from "../verify/python-programs";
import { appsCallBasedSet } from "./apps-call-based";

/** The record layouts this module reads. `humaneval_plus_originfmt` is never guessed (same shape as humaneval). */
export type PythonFunctionFormat = "humaneval" | "humaneval_plus" | "humaneval_plus_originfmt" | "mbpp" | "mbpp_plus" | "leetcode";

export const PYTHON_FUNCTION_FORMATS: readonly PythonFunctionFormat[] = [
  "humaneval",
  "humaneval_plus",
  "humaneval_plus_originfmt",
  "mbpp",
  "mbpp_plus",
  "leetcode",
];

// EvalPlus's per-task oracles for MBPP+ (evalplus/data/mbpp.py, evaluate.py).
const MBPP_SET_EQUAL = new Set([2, 7, 111, 140, 232, 249, 579, 769]);
const MBPP_NOT_NONE = new Set(["check_str", "text_match_three", "text_starta_endb"]);

/** LeetCode's judge provides these names to every solution (DeepSeek-Coder's LeetCode harness does too). */
export const LEETCODE_PRELUDE = [
  "from typing import *",
  "from collections import *",
  "from functools import *",
  "from itertools import *",
  "from heapq import *",
  "from bisect import *",
  "from math import *",
  "from string import *",
  "import collections, heapq, bisect, math, functools, itertools, string, re, random, operator",
  // LeetCode defines these for linked-list and tree problems; a solution may define its own instead.
  "class ListNode:",
  "    def __init__(self, val=0, next=None):",
  "        self.val = val",
  "        self.next = next",
  "class TreeNode:",
  "    def __init__(self, val=0, left=None, right=None):",
  "        self.val = val",
  "        self.left = left",
  "        self.right = right",
  "",
].join("\n");

function functionTask(fields: Omit<FunctionTask, "kind" | "language" | "limits">): FunctionTask {
  return { kind: "function", language: "python", limits: { ...DEFAULT_LIMITS }, ...fields };
}

/** HumanEval's check(): split into one case per assert when flat, else one script that calls it. */
function humanEvalCheckCases(test: string): FunctionTestCase[] {
  const asserts = flatCheckAsserts(test);
  if (asserts) return asserts.map((code) => ({ kind: "assert", code }));
  return [{ kind: "script", code: `${test.replace(/\s+$/, "")}\n\ncheck(candidate)\n` }];
}

function buildHumanEval(r: JsonlRecord, set: string): FunctionTask {
  const o = r.root;
  const prompt = stringField(o, "prompt");
  const test = stringField(o, "test");
  return functionTask({
    id: stringField(o, "task_id"),
    set,
    prompt,
    entryPoint: stringField(o, "entry_point"),
    // The test module (METADATA, imports, check) runs after the candidate so that a helper the candidate
    // happens to call `check` cannot replace the real one.
    testPreamble: test,
    publicTests: humanEvalCheckCases(test),
    privateTests: [],
    referenceSolution: prompt + stringField(o, "canonical_solution"),
  });
}

function argListCases(r: JsonlRecord, field: string, argsJson: (argList: string, index: number) => string): FunctionTestCase[] {
  // MBPP+ Mbpp/793 stores its (empty) plus_input as {}; EvalPlus iterates it as no inputs.
  const value = getField(r.root, field);
  if (value?.type === "object" && value.entries.length === 0) return [];
  return arrayField(r.root, field).map((item, i) => {
    if (item.type !== "array") throw new RecordShapeError(`field "${field}"[${i}] must be an argument list (array)`);
    return { kind: "call", argsJson: argsJson(sourceOf(r.doc, item), i) };
  });
}

function buildHumanEvalPlus(r: JsonlRecord): FunctionTask {
  const o = r.root;
  const id = stringField(o, "task_id");
  const prompt = stringField(o, "prompt");
  const test = optionalStringField(o, "test");
  const entryPoint = stringField(o, "entry_point");
  const comparison: FunctionComparison = { atol: numberField(o, "atol") };
  if (entryPoint === "find_zero") comparison.rule = "find-zero";
  // The Mini file has no `test`; its base inputs stand in as the public tests.
  const publicTests = test !== undefined ? humanEvalCheckCases(test) : argListCases(r, "base_input", (a) => a);
  return functionTask({
    id,
    set: "humaneval_plus",
    prompt,
    entryPoint,
    testPreamble: test,
    publicTests,
    privateTests: argListCases(r, "plus_input", (a) => a),
    comparison,
    referenceSolution: prompt + stringField(o, "canonical_solution"),
  });
}

function buildHumanEvalPlusOriginFmt(r: JsonlRecord): FunctionTask {
  const task = buildHumanEval(r, "humaneval_plus");
  // OriginFmt's check() loops over all base+plus inputs with baked-in expected outputs: public = private here
  // would leak everything, so the whole check is private and no test is public.
  return { ...task, privateTests: task.publicTests, publicTests: [], flags: ["no-public-tests"] };
}

const NOT_A_FUNCTION = new Set(["set", "sorted", "list", "tuple", "len", "abs", "round", "str", "int", "float", "sum", "isclose", "math"]);

/** MBPP has no entry_point field: the first function the first assert calls that the solution defines. */
export function mbppEntryPoint(code: string, firstAssert: string): string {
  const defined = new Set([...code.matchAll(/^[ \t]*def\s+([A-Za-z_]\w*)\s*\(/gm)].map((m) => m[1]));
  const called = [...firstAssert.matchAll(/([A-Za-z_][\w.]*)\s*\(/g)].map((m) => m[1]);
  const found = called.find((name) => defined.has(name)) ?? called.find((n) => !NOT_A_FUNCTION.has(n) && !n.includes("."));
  if (!found) throw new RecordShapeError(`cannot tell which function the first assert tests: ${firstAssert}`);
  return found;
}

function buildMbpp(r: JsonlRecord, inMbppPlus: Set<number>): FunctionTask {
  const o = r.root;
  const n = safeIntegerField(o, "task_id");
  const tests = stringArrayField(o, "test_list");
  if (tests.length === 0) throw new RecordShapeError(`field "test_list" is empty`);
  const challenge = getField(o, "challenge_test_list") ? stringArrayField(o, "challenge_test_list") : [];
  const code = stringField(o, "code");
  const text = stringField(o, "text");
  const setup = optionalStringField(o, "test_setup_code") ?? "";
  return functionTask({
    id: `mbpp/${n}`,
    set: "mbpp",
    prompt: `${text}\nYour code should pass this test:\n${tests[0]}\n`,
    entryPoint: mbppEntryPoint(code, tests[0]),
    testPreamble: setup.trim() ? setup : undefined,
    publicTests: [{ kind: "assert", code: tests[0] }],
    privateTests: [...tests.slice(1), ...challenge].map((t) => ({ kind: "assert" as const, code: t })),
    referenceSolution: code,
    // The MBPP+ problems are evaluation data; the rest of MBPP may be trained on.
    flags: inMbppPlus.has(n) ? ["evaluation-only"] : undefined,
  });
}

function buildMbppPlus(r: JsonlRecord): FunctionTask {
  const o = r.root;
  const id = stringField(o, "task_id");
  const n = Number(id.split("/").pop());
  if (!Number.isInteger(n)) throw new RecordShapeError(`field "task_id" must look like "Mbpp/N", found ${JSON.stringify(id)}`);
  const entryPoint = stringField(o, "entry_point");
  const prompt = stringField(o, "prompt");
  const statements = splitTopLevelStatements(stringField(o, "assertion").split("\n"));
  if (!statements) throw new RecordShapeError(`field "assertion" is not a flat list of statements`);
  const asserts = statements.filter((s) => isAssertStatement(s.text)).map((s) => s.text);
  const setup = statements.filter((s) => !isAssertStatement(s.text)).map((s) => s.text);
  if (asserts.length === 0) throw new RecordShapeError(`field "assertion" holds no assert`);
  const comparison: FunctionComparison = { atol: numberField(o, "atol") };
  if (MBPP_SET_EQUAL.has(n)) comparison.rule = "set";
  else if (MBPP_NOT_NONE.has(entryPoint)) comparison.rule = "not-none";
  const plus = argListCases(r, "plus_input", (argList) => mbppPlusArgsJson(n, argList));
  // Where EvalPlus has a special oracle, the base asserts (exact comparisons) would reject answers the oracle
  // accepts; the base inputs are judged by the oracle instead, split the same way (first public).
  const base: FunctionTestCase[] = comparison.rule
    ? argListCases(r, "base_input", (argList) => mbppPlusArgsJson(n, argList))
    : asserts.map((code) => ({ kind: "assert", code }));
  if (base.length === 0) throw new RecordShapeError(`no base tests`);
  return functionTask({
    id,
    set: "mbpp_plus",
    prompt,
    entryPoint,
    testPreamble: setup.length ? `${setup.join("\n")}\n` : undefined,
    publicTests: base.slice(0, 1),
    privateTests: [...base.slice(1), ...plus],
    comparison,
    referenceSolution: prompt + stringField(o, "canonical_solution"),
  });
}

function buildLeetCode(r: JsonlRecord): FunctionTask {
  const o = r.root;
  const test = stringField(o, "test");
  const firstInput = test.search(/^test_input\s*=/m);
  if (firstInput < 0) throw new RecordShapeError(`field "test" has no "test_input = ..." case`);
  const cases = test
    .slice(firstInput)
    .split(/\n(?=test_input\s*=)/)
    .map((chunk) => chunk.trim())
    .filter(Boolean);
  const method = /my_solution\.(\w+)\s*\(/.exec(test);
  if (!method) throw new RecordShapeError(`field "test" never calls my_solution.<method>(...)`);
  const asserts: FunctionTestCase[] = cases.map((code) => ({ kind: "assert", code }));
  return functionTask({
    id: stringField(o, "task_id"),
    set: "leetcode",
    prompt: stringField(o, "prompt"),
    entryPoint: method[1],
    candidatePrelude: LEETCODE_PRELUDE,
    // `my_solution = Solution()` and the list/ListNode helpers; they run after the candidate defines Solution.
    testPreamble: test.slice(0, firstInput),
    publicTests: asserts.slice(0, 3),
    privateTests: asserts.slice(3),
  });
}

/** Which format a file's records have; null when the shape is shared (HumanEval vs OriginFmt) or unknown. */
export function recogniseFormat(first: JsonlRecord): PythonFunctionFormat | null {
  const has = (k: string) => getField(first.root, k) !== undefined;
  if (has("base_input") && has("plus_input") && has("assertion")) return "mbpp_plus";
  if (has("base_input") && has("plus_input")) return "humaneval_plus";
  if (has("test_list")) return "mbpp";
  if (has("meta") && has("test") && has("prompt")) return "leetcode";
  return null;
}

/** The task numbers of MBPP+ ("Mbpp/N"); a record without such an id fails the whole read. */
async function mbppPlusIds(benchmarksRoot: string): Promise<Set<number>> {
  const file = join(benchmarksRoot, MBPP_PLUS_FILE);
  const contents = await readJsonl(file);
  if (contents.errors.length > 0) throw new Error(`${file}:${contents.errors[0].line}: ${contents.errors[0].message}`);
  const ids = new Set<number>();
  for (const r of contents.records) {
    const id = getField(r.root, "task_id");
    const m = id?.type === "string" ? /^Mbpp\/(\d+)$/.exec(id.value) : null;
    if (!m) throw new Error(`${file}:${r.line}: field "task_id" must look like "Mbpp/N"`);
    ids.add(Number(m[1]));
  }
  return ids;
}

const MBPP_PLUS_FILE = "mbpp_plus/MbppPlus-v0.1.0.jsonl.gz";

/** Loads a JSONL file of one of the Python function-level formats; the format is recognised unless given. */
export async function loadPythonFunctionFile(file: string, format?: PythonFunctionFormat, benchmarksRoot?: string): Promise<LoadResult> {
  const contents = await readJsonl(file);
  let chosen = format;
  if (!chosen) {
    if (contents.records.length === 0) return { tasks: [], errors: contents.errors };
    const recognised = recogniseFormat(contents.records[0]);
    if (!recognised) {
      throw new Error(
        `${file}: cannot tell the format from its records (HumanEval and HumanEval+ OriginFmt share a shape); ` +
          `give it explicitly: --format ${PYTHON_FUNCTION_FORMATS.join("|")}`,
      );
    }
    chosen = recognised;
  }
  const inMbppPlus = chosen === "mbpp" && benchmarksRoot ? await mbppPlusIds(benchmarksRoot).catch(() => new Set<number>()) : new Set<number>();
  const build: Record<PythonFunctionFormat, (r: JsonlRecord) => Task> = {
    humaneval: (r) => buildHumanEval(r, "humaneval"),
    humaneval_plus: buildHumanEvalPlus,
    humaneval_plus_originfmt: buildHumanEvalPlusOriginFmt,
    mbpp: (r) => buildMbpp(r, inMbppPlus),
    mbpp_plus: buildMbppPlus,
    leetcode: buildLeetCode,
  };
  const { items, errors } = buildRecords(file, contents, build[chosen]);
  return { tasks: items, errors };
}

function pythonSet(name: string, file: string, format: PythonFunctionFormat, licence: TrainingLicence): BenchmarkSet {
  return {
    name,
    file,
    ...licence,
    load: (benchmarksRoot) => loadPythonFunctionFile(join(benchmarksRoot, file), format, benchmarksRoot),
    verificationPrograms: (task: Task): VerificationProgram[] => (task.kind === "function" ? pythonVerificationPrograms(task) : []),
  };
}

/** The MBPP+ problems are evaluation data; the rest of MBPP may be trained on (same task number, "mbpp/N" = "Mbpp/N"). */
const mbppLicence: TrainingLicence = {
  trainable: "partly",
  excludedFromTraining: async (benchmarksRoot) => new Set([...(await mbppPlusIds(benchmarksRoot))].map((n) => `mbpp/${n}`)),
};

export const pythonFunctionSets: BenchmarkSet[] = [
  pythonSet("humaneval", "humaneval/HumanEval.jsonl.gz", "humaneval", { trainable: false }),
  pythonSet("humaneval_plus", "humaneval_plus/HumanEvalPlus.jsonl.gz", "humaneval_plus", { trainable: false }),
  pythonSet("mbpp", "mbpp/mbpp.jsonl.gz", "mbpp", mbppLicence),
  pythonSet("mbpp_plus", MBPP_PLUS_FILE, "mbpp_plus", { trainable: false }),
  pythonSet("leetcode", "leetcode_contest_2024/leetcode-20240121-Jul.jsonl.gz", "leetcode", { trainable: false }),
  // The 98 call-based APPS problems; the 52 stdin ones are the `apps` set (stdio-sets.ts).
  appsCallBasedSet,
];
