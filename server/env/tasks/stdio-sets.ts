// stdin/stdout sets: codecontests, codejam, apps (stdin part), xcodeeval.
// Public/private splits follow spec/environment.md, "Public and private tests, per benchmark".
import { join } from "node:path";
import { DEFAULT_LIMITS, type Limits, type OutputChecker, type StdioTask, type StdioTest, type Task } from "../types";
import { buildRecords, readJsonl, type JsonlRecord } from "./jsonl";
import {
  arrayField,
  getField,
  optionalStringField,
  RecordShapeError,
  stringArrayField,
  stringField,
  type JsonNode,
  type JsonObjectNode,
} from "./lossless-json";
import type { BenchmarkSet, LoadResult, VerificationProgram } from "./set";

/** Flag for a task with no public tests that no example could be parsed for: left out of multi-turn runs. */
export const NO_PUBLIC_TESTS = "no-public-tests";

const TOKENS: OutputChecker = { mode: "tokens" };

// ---------------------------------------------------------------------------------------------------------
// Record fields

function booleanField(obj: JsonObjectNode, name: string): boolean {
  const v = getField(obj, name);
  if (v === undefined) throw new RecordShapeError(`missing field "${name}"`);
  if (v.type !== "boolean") throw new RecordShapeError(`field "${name}" must be true or false, found ${v.type}`);
  return v.value;
}

function objectItem(node: JsonNode, where: string): JsonObjectNode {
  if (node.type !== "object") throw new RecordShapeError(`${where} must be an object, found ${node.type}`);
  return node;
}

function stringOf(node: JsonNode | undefined, where: string): string {
  if (node === undefined) throw new RecordShapeError(`missing ${where}`);
  if (node.type !== "string") throw new RecordShapeError(`${where} must be a string, found ${node.type}`);
  return node.value;
}

/** `[{"input": "...", "output": "..."}]`, as CodeContests and Code Jam store tests. */
function ioPairs(nodes: JsonNode[], where: string): StdioTest[] {
  return nodes.map((node, i) => {
    const o = objectItem(node, `${where}[${i}]`);
    return { input: stringOf(getField(o, "input"), `${where}[${i}].input`), output: stringOf(getField(o, "output"), `${where}[${i}].output`) };
  });
}

function nonNegativeInteger(obj: JsonObjectNode, name: string): number {
  const v = getField(obj, name);
  if (v === undefined) throw new RecordShapeError(`missing field "${name}"`);
  if (v.type !== "number" || !/^\d+$/.test(v.raw) || !Number.isSafeInteger(Number(v.raw))) {
    throw new RecordShapeError(`field "${name}" must be a non-negative integer`);
  }
  return Number(v.raw);
}

async function loadRecords(root: string, file: string, build: (r: JsonlRecord) => StdioTask | null): Promise<LoadResult> {
  const path = join(root, file);
  const contents = await readJsonl(path);
  const { items, errors } = buildRecords(path, contents, build);
  return { tasks: items.filter((t): t is StdioTask => t !== null), errors };
}

function stdioTask(fields: Omit<StdioTask, "kind" | "language" | "limits"> & { limits?: Limits }): StdioTask {
  const task: StdioTask = { kind: "stdio", language: "python", limits: { ...DEFAULT_LIMITS }, ...fields };
  if (task.flags?.length === 0) delete task.flags;
  return task;
}

// ---------------------------------------------------------------------------------------------------------
// CodeContests (the strict subset)

/** The strict subset: the reference passes every test, one answer per input, not interactive (136 tasks). */
function buildCodeContests(r: JsonlRecord): StdioTask | null {
  const o = r.root;
  const id = stringField(o, "id");
  const tests = ioPairs(arrayField(o, "tests"), "tests");
  const shown = nonNegativeInteger(o, "num_leading_tests_in_statement");
  const reference = stringField(o, "reference_solution_py");
  const strict =
    booleanField(o, "reference_passes_all") && !booleanField(o, "maybe_multiple_answers") && !booleanField(o, "maybe_interactive");
  if (!strict) return null;
  if (shown > tests.length) throw new RecordShapeError(`num_leading_tests_in_statement is ${shown} but there are ${tests.length} tests`);
  return stdioTask({
    id,
    set: "codecontests",
    statement: stringField(o, "description"),
    publicTests: tests.slice(0, shown),
    privateTests: tests.slice(shown),
    checker: TOKENS,
    referenceSolution: reference,
    flags: shown === 0 ? [NO_PUBLIC_TESTS] : [],
  });
}

// ---------------------------------------------------------------------------------------------------------
// Code Jam / Kick Start

function codeJamChecker(o: JsonObjectNode): OutputChecker {
  const checker = objectItem(getField(o, "checker") ?? { type: "null", start: 0, end: 0 }, 'field "checker"');
  const type = stringOf(getField(checker, "type"), "checker.type");
  if (type !== "tokens") throw new RecordShapeError(`checker.type ${JSON.stringify(type)} is not supported (only "tokens")`);
  const tol = getField(checker, "float_tolerance");
  // The archive's default validator compares case-insensitively.
  const result: OutputChecker = { mode: "tokens", caseInsensitive: true };
  if (tol !== undefined && tol.type !== "null") {
    const value = tol.type === "number" ? Number(tol.raw) : NaN;
    if (!(value >= 0) || !Number.isFinite(value)) throw new RecordShapeError("checker.float_tolerance must be a non-negative number or null");
    result.floatTolerance = value;
  }
  return result;
}

/**
 * The sample written inside a Code Jam statement, for the records that have no sample files. The statement
 * shows "Sample", then "Input" and "Output" headings (one after the other, or side by side with both blocks
 * below), the input whose first token is the case count T, and output lines "Case #1: …" … "Case #T: …"
 * (a case's answer may span several lines). Null when the text does not have that shape.
 */
export function parseCodeJamStatementSample(statement: string): StdioTest | null {
  const lines = statement.split("\n");
  const sampleAt = lines.findIndex((l) => /^\s*Samples?\s*$/.test(l));
  if (sampleAt < 0) return null;
  const isHeading = (l: string) => /^\s*(Sample\s+)?(Input|Output)\s*$/.test(l);
  const firstCase = lines.findIndex((l, i) => i > sampleAt && /^Case #1:/.test(l));
  if (firstCase < 0) return null;
  const inputLines = lines.slice(sampleAt + 1, firstCase).filter((l) => !isHeading(l));
  while (inputLines.length > 0 && inputLines[0].trim() === "") inputLines.shift();
  while (inputLines.length > 0 && inputLines[inputLines.length - 1].trim() === "") inputLines.pop();
  if (inputLines.length === 0) return null;
  // A blank line inside the input means the statement's text lost whitespace that the input holds (a line of
  // spaces); the sample would then be wrong, so it is not used.
  if (inputLines.some((l) => l.trim() === "")) return null;
  const cases = /^\s*(\d+)\b/.exec(inputLines[0]);
  if (!cases) return null;
  const caseCount = Number(cases[1]);
  if (!(caseCount >= 1)) return null;
  // The output runs from "Case #1:" through the blank line that ends "Case #T:"'s block.
  const outputLines: string[] = [];
  let seen = 0;
  for (let i = firstCase; i < lines.length; i++) {
    const line = lines[i];
    const m = /^Case #(\d+):/.exec(line);
    if (m) {
      if (Number(m[1]) !== seen + 1) return null;
      seen++;
    } else if (line.trim() === "" && seen === caseCount) {
      break;
    }
    outputLines.push(line);
  }
  if (seen !== caseCount) return null;
  return { input: `${inputLines.join("\n")}\n`, output: `${outputLines.join("\n").replace(/\s+$/, "")}\n` };
}

function buildCodeJam(r: JsonlRecord): StdioTask {
  const o = r.root;
  const statement = stringField(o, "statement");
  const samples = ioPairs(arrayField(o, "samples"), "samples");
  const privateTests = arrayField(o, "test_sets").flatMap((node, i) =>
    ioPairs(arrayField(objectItem(node, `test_sets[${i}]`), "tests"), `test_sets[${i}].tests`),
  );
  const flags: string[] = [];
  if (samples.length === 0) {
    const parsed = parseCodeJamStatementSample(statement);
    if (parsed) samples.push(parsed);
    else flags.push(NO_PUBLIC_TESTS);
  }
  return stdioTask({
    id: stringField(o, "id"),
    set: "codejam",
    statement,
    publicTests: samples,
    privateTests,
    checker: codeJamChecker(o),
    flags,
  });
}

// ---------------------------------------------------------------------------------------------------------
// APPS (stdin part) and xCodeEval

/** APPS stores stdin tests as `{"input": "...", "output": ["..."]}`. */
function appsTests(nodes: JsonNode[], where: string): StdioTest[] {
  return nodes.map((node, i) => {
    const o = objectItem(node, `${where}[${i}]`);
    const outputs = stringArrayField(o, "output");
    if (outputs.length !== 1) throw new RecordShapeError(`${where}[${i}].output must hold exactly one string, found ${outputs.length}`);
    return { input: stringOf(getField(o, "input"), `${where}[${i}].input`), output: outputs[0] };
  });
}

/** Only the stdin problems (empty `starter_code`); the call-based ones are function tasks. */
function buildApps(r: JsonlRecord): StdioTask | null {
  const o = r.root;
  const starter = getField(o, "starter_code");
  if (starter !== undefined && starter.type !== "null" && stringOf(starter, 'field "starter_code"').trim() !== "") return null;
  const idNode = getField(o, "id");
  if (idNode === undefined || (idNode.type !== "number" && idNode.type !== "string")) throw new RecordShapeError('field "id" must be a number or string');
  const publicTests = appsTests(arrayField(o, "sample_io"), "sample_io");
  return stdioTask({
    id: `apps/${idNode.type === "number" ? idNode.raw : idNode.value}`,
    set: "apps",
    statement: stringField(o, "description"),
    publicTests,
    privateTests: appsTests(arrayField(o, "test_list"), "test_list"),
    checker: TOKENS,
    flags: publicTests.length === 0 ? [NO_PUBLIC_TESTS] : [],
  });
}

/** "2 seconds", "0.5 seconds" → ms. */
export function parseTimeLimit(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(seconds?|s)\s*$/.exec(text);
  if (!m) throw new RecordShapeError(`time_limit ${JSON.stringify(text)} is not "<number> seconds"`);
  const ms = Math.round(Number(m[1]) * 1000);
  if (ms <= 0) throw new RecordShapeError(`time_limit ${JSON.stringify(text)} must be positive`);
  return ms;
}

/** A sample as a file would hold it: the dataset drops the final newline. */
function asFile(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

function buildXCodeEval(r: JsonlRecord): StdioTask {
  const o = r.root;
  const inputs = stringArrayField(o, "sample_inputs");
  const outputs = stringArrayField(o, "sample_outputs");
  if (inputs.length !== outputs.length) throw new RecordShapeError(`${inputs.length} sample_inputs but ${outputs.length} sample_outputs`);
  const section = (title: string, field: string) => {
    const text = (optionalStringField(o, field) ?? "").trim();
    return text ? `\n\n${title}\n${text}` : "";
  };
  const examples = inputs.map((input, i) => `\n\nExample ${i + 1}\nInput:\n${asFile(input)}Output:\n${asFile(outputs[i])}`).join("");
  const notes = (optionalStringField(o, "notes") ?? "").trim();
  return stdioTask({
    id: `xcodeeval/${stringField(o, "src_uid")}`,
    set: "xcodeeval",
    statement: `${stringField(o, "description").trim()}${section("Input", "input_spec")}${section("Output", "output_spec")}${examples}${notes ? `\n\n${notes}` : ""}`,
    publicTests: inputs.map((input, i) => ({ input: asFile(input), output: outputs[i] })),
    privateTests: [],
    checker: TOKENS,
    limits: { ...DEFAULT_LIMITS, timeMs: parseTimeLimit(stringField(o, "time_limit")) },
    flags: inputs.length === 0 ? [NO_PUBLIC_TESTS] : [],
  });
}

// ---------------------------------------------------------------------------------------------------------
// Verification programs

const PY_COMPARISON_FLIP: Record<string, string> = { "==": "!=", "!=": "==", "<=": ">", ">=": "<", "<": ">=", ">": "<=" };

/** The offset sits on a line that starts a `while` loop (negating its condition mostly makes an endless loop). */
function inWhileHeader(code: string, at: number): boolean {
  const lineStart = code.lastIndexOf("\n", at - 1) + 1;
  return /^\s*while\b/.test(code.slice(lineStart, at));
}

/**
 * CodeContests tasks whose deterministic mutant passes every test, found by running verification here (python
 * 3.11, bwrap sandbox): the tests do not tell the mutant from the reference, because the mutated code is
 * equivalent or never reached by the tests. Findings about the tests' strength, listed for `rlef verify`.
 */
export const CODECONTESTS_SURVIVING_MUTANTS: Readonly<Record<string, string>> = {
  "1076_b_divisor_subtraction_738": "'>' -> '<=' at line 84 (last prime factor above the square root) passes all 10 tests",
  "1249_b1_books_exchange_easy_version_7099": "'==' -> '!=' at line 163 only changes union-by-rank's tie-break: an equivalent mutant",
  "1163_c1_power_transmission_easy_edition_2411": "'<' -> '>=' at line 27 (sign normalisation of a direction) passes all 10 tests",
  "1468_f_full_turn_7213": "'>' -> '<=' at line 81 (sign of a vertical direction) passes all 10 tests",
  "145_c_lucky_subsequence_8670": "'<' -> '>=' at line 48 (guard n < k in C(n, k)) passes all 10 tests",
  "9_a_die_roll_1319": "'==' -> '!=' at line 16: the tests never reach the 5/6 branch",
};

const PY_ARITHMETIC_SWAP: Record<string, string> = { "+": "-", "-": "+", "*": "//", "//": "*" };

interface MutationSite {
  at: number;
  text: string;
  replacement: string;
}

/**
 * The deterministic one-token mutant of a Python program, the first rule that has a site:
 * 1. the LAST comparison operator outside strings, comments and `while` headers is negated
 *    (`==`↔`!=`, `<`↔`>=`, `>`↔`<=`);
 * 2. the last arithmetic operator is swapped (`+`↔`-`, `*`↔`//`; augmented assignments and `**` are not touched);
 * 3. the last integer literal n becomes n+1.
 * The last site, not the first: solutions open with input helpers and constants, and their comparisons are
 * often not reached by every input, while the last comparison usually sits in the answer's own logic (measured
 * on the 136 CodeContests tasks: the last comparison's mutant fails on 100 of 106 tasks with comparisons, the
 * first's on 96). `while` headers are skipped because a negated loop condition mostly runs forever, which
 * fails too, but only after the whole time limit. Null when no rule has a site.
 */
export function mutatePythonOneToken(code: string): { code: string; label: string } | null {
  const comparisons: MutationSite[] = [];
  const arithmetic: MutationSite[] = [];
  const integers: MutationSite[] = [];
  let i = 0;
  const n = code.length;
  while (i < n) {
    const c = code[i];
    if (c === "#") {
      while (i < n && code[i] !== "\n") i++;
      continue;
    }
    const str = /^([rRbBuUfF]{0,2})('''|"""|'|")/.exec(code.slice(i, i + 5));
    if (str && (str[1] === "" || !/[A-Za-z0-9_]/.test(code[i - 1] ?? ""))) {
      const quote = str[2];
      i += str[0].length;
      while (i < n && !code.startsWith(quote, i)) {
        // Even a raw string cannot end on an escaped quote, so a backslash always skips the next character.
        if (code[i] === "\\") i++;
        else if (code[i] === "\n" && quote.length === 1) break;
        i++;
      }
      i += quote.length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      while (i < n && /[A-Za-z0-9_]/.test(code[i])) i++;
      continue;
    }
    if (/\d/.test(c)) {
      const m = /^(?:0[xXoObB][0-9a-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?j?)/.exec(code.slice(i));
      const text = m ? m[0] : c;
      if (/^\d+$/.test(text)) integers.push({ at: i, text, replacement: (BigInt(text) + 1n).toString() });
      i += text.length;
      continue;
    }
    const op = /^(<<=|>>=|\*\*=|\/\/=|<<|>>|->|\*\*|\/\/|==|!=|<=|>=|\+=|-=|\*=|<|>|\+|-|\*)/.exec(code.slice(i, i + 3));
    if (op) {
      const text = op[1];
      if (PY_COMPARISON_FLIP[text] !== undefined && !inWhileHeader(code, i)) comparisons.push({ at: i, text, replacement: PY_COMPARISON_FLIP[text] });
      if (PY_ARITHMETIC_SWAP[text] !== undefined) arithmetic.push({ at: i, text, replacement: PY_ARITHMETIC_SWAP[text] });
      i += text.length;
      continue;
    }
    i++;
  }
  const site = comparisons.at(-1) ?? arithmetic.at(-1) ?? integers.at(-1);
  if (!site) return null;
  const line = code.slice(0, site.at).split("\n").length;
  return {
    code: code.slice(0, site.at) + site.replacement + code.slice(site.at + site.text.length),
    label: `mutant: '${site.text}' -> '${site.replacement}' at line ${line}`,
  };
}

/** A Python program that writes, for each known stdin, the given stdout (bytes in, bytes out, no newline translation). */
export function tableProgram(table: ReadonlyArray<readonly [string, string]>): string {
  const map: Record<string, string> = {};
  for (const [input, output] of table) if (!(input in map)) map[input] = output;
  // A JSON string literal is also a valid Python string literal.
  return [
    "import json, sys",
    `TABLE = json.loads(${JSON.stringify(JSON.stringify(map))})`,
    'sys.stdout.buffer.write(TABLE.get(sys.stdin.buffer.read().decode("utf-8"), "").encode("utf-8"))',
    "",
  ].join("\n");
}

const ASCII_SPACE = /[ \t\n\v\f\r]+/;

/**
 * Known-answer programs for a stdin/stdout task without a reference: the expected outputs pass; the same with
 * one token changed (a "9" put in front of the last token of the first test that has one, which no tolerance
 * absorbs) fails; the outputs with their whitespace reformatted pass only when the checker compares tokens.
 */
export function knownAnswerPrograms(task: StdioTask): VerificationProgram[] {
  const tests = [...task.publicTests, ...task.privateTests];
  if (tests.length === 0) return [];
  const programs: VerificationProgram[] = [
    { label: "known answer", code: tableProgram(tests.map((t) => [t.input, t.output])), mustPass: true },
  ];
  const target = tests.findIndex((t) => t.output.split(ASCII_SPACE).some(Boolean));
  if (target >= 0) {
    // Every test with the target's input gets the change (APPS repeats its samples among the private tests).
    const changed = tests.map((t): [string, string] => {
      if (t.input !== tests[target].input) return [t.input, t.output];
      const m = /(\S+)(\s*)$/.exec(t.output) as RegExpExecArray;
      return [t.input, `${t.output.slice(0, m.index)}9${m[1]}${m[2]}`];
    });
    programs.push({ label: `known answer with one token changed (test ${target + 1})`, code: tableProgram(changed), mustPass: false });
  }
  const reformatted = tests.map((t): [string, string] => [t.input, `\n${t.output.split(ASCII_SPACE).filter(Boolean).join(" \t\n")}\n\n`]);
  programs.push({ label: "reformatted whitespace", code: tableProgram(reformatted), mustPass: task.checker.mode === "tokens" });
  return programs;
}

function referenceAndMutant(task: Task): VerificationProgram[] {
  if (task.kind !== "stdio" || task.referenceSolution === undefined) return [];
  const programs: VerificationProgram[] = [{ label: "reference", code: task.referenceSolution, mustPass: true }];
  const mutant = mutatePythonOneToken(task.referenceSolution);
  if (mutant) programs.push({ label: mutant.label, code: mutant.code, mustPass: false });
  return programs;
}

function knownAnswers(task: Task): VerificationProgram[] {
  return task.kind === "stdio" ? knownAnswerPrograms(task) : [];
}

// ---------------------------------------------------------------------------------------------------------
// The sets

export const stdioSets: BenchmarkSet[] = [
  {
    name: "codecontests",
    file: "codecontests_cf_subset/codecontests_cf_subset.jsonl.gz",
    trainable: true,
    load: (root) => loadRecords(root, "codecontests_cf_subset/codecontests_cf_subset.jsonl.gz", buildCodeContests),
    verificationPrograms: referenceAndMutant,
  },
  {
    name: "codejam",
    file: "google_codejam/codejam_kickstart_stdio.jsonl.gz",
    trainable: true,
    load: (root) => loadRecords(root, "google_codejam/codejam_kickstart_stdio.jsonl.gz", buildCodeJam),
    verificationPrograms: knownAnswers,
  },
  {
    name: "apps",
    file: "apps_selected150/apps_selected150.jsonl.gz",
    trainable: true,
    load: (root) => loadRecords(root, "apps_selected150/apps_selected150.jsonl.gz", buildApps),
    verificationPrograms: knownAnswers,
  },
  {
    name: "xcodeeval",
    file: "xcodeeval_prog_syn_val/prog_syn_val.jsonl.gz",
    // Likely CC-BY-NC-4.0 and only sample tests: smoke tests and prompting, not training.
    trainable: false,
    load: (root) => loadRecords(root, "xcodeeval_prog_syn_val/prog_syn_val.jsonl.gz", buildXCodeEval),
    verificationPrograms: knownAnswers,
  },
];
