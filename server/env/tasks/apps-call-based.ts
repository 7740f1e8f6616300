// APPS call-based problems (98 of the 150 in apps_selected150: those with a `starter_code`), as Python
// function tasks: set `apps_call`. The stdin part stays the `apps` set in stdio-sets.ts.
//
// The file's `input` is NOT a JSON argument list, whatever its README says: MapCoder's conversion
// (src/datasets/convert-apps-xcode.py) wrote `"\n".join(str(x) for x in args)`. So each argument is one line,
// strings are unquoted (and may span lines), other values are Python reprs (`['a', 'b']`, `True`).
// Recovering the arguments:
// - a line is parsed as JSON, else as a Python literal; a parameter position where any test of the problem
//   holds a line that is neither is a string parameter, and its lines are kept as text in every test
//   (so `validate_pin`'s "1" stays the string "1" because another test has "a234");
// - the statement's own example calls (`factors(54)`, `is_polydivisible("1232", 10)`) overrule that per
//   position: a number shown there makes the position mixed (each line a literal where it is one, else text:
//   `factors` is also tested with "a"), a quoted string makes it text even when every line looks numeric;
// - a test with more lines than parameters has a multi-line string: the lines go to the one string
//   parameter (the ones before and after it to the other parameters); with no or several string parameters
//   the record cannot be read and is reported with its file and line.
// Known limit: a string parameter whose every value looks like a literal is read as that literal.
//
// Expected value: `output` is APPS's list-wrapped answer; it must hold exactly one value, which is the answer.
// APPS's judge also accepts the wrapped list itself (it compares with both because APPS stores some answers
// unwrapped); every answer here is wrapped, so a function returning `[x]` for `x` is wrong by its statement
// and is judged wrong. APPS's tuple rule is kept: a returned tuple (or list of tuples) compares as a list.
//
// Public tests are `sample_io`, private `test_list` (spec/environment.md). A record without sample_io takes
// the statement's `name(args) == result` examples; none of the file's 13 such records (12 distinct problems)
// has one, so they are flagged no-public-tests.
import { join } from "node:path";
import { DEFAULT_LIMITS, type FunctionTask, type FunctionTestCase, type Task } from "../types";
import { buildRecords, readJsonl, type JsonlRecord } from "./jsonl";
import { arrayField, getField, parseLossless, RecordShapeError, stringField, stringifyNode, type JsonNode, type JsonObjectNode } from "./lossless-json";
import { parsePythonLiteral } from "./python-literal";
import type { BenchmarkSet, LoadResult, VerificationProgram } from "./set";
import { NO_PUBLIC_TESTS } from "./stdio-sets";

export const APPS_FILE = "apps_selected150/apps_selected150.jsonl.gz";
export const APPS_CALL_SET = "apps_call";
/** A record repeated in the file (MapCoder sampled from train twice): kept, under `apps/<id>#<n>`, flagged. */
export const DUPLICATE_RECORD = "duplicate-record";
/** Two tests with the same arguments expect different answers: no function passes both (apps/1640). */
export const CONTRADICTORY_TESTS = "contradictory-tests";

function hasContradiction(cases: FunctionTestCase[]): boolean {
  const answers = new Map<string, string | undefined>();
  for (const c of cases) {
    if (c.kind !== "call") continue;
    if (answers.has(c.argsJson) && answers.get(c.argsJson) !== c.expectedJson) return true;
    answers.set(c.argsJson, c.expectedJson);
  }
  return false;
}

const span = { start: 0, end: 0 };

export interface StarterSignature {
  name: string;
  params: string[];
  /** Parameters without a default value. */
  required: number;
}

/** `def name(a, b=0, c=pi):` → its name and parameters; a `*args`/`**kw` or a class starter is refused. */
export function parseStarterSignature(starter: string): StarterSignature {
  if (/^\s*class\s/m.test(starter)) throw new RecordShapeError("class-based starter code is not supported (only a function)");
  const m = /^\s*def\s+([A-Za-z_]\w*)\s*\(([^)]*)\)\s*(?:->[^:]*)?:/m.exec(starter);
  if (!m) throw new RecordShapeError(`field "starter_code" has no "def name(...):" line`);
  const params = m[2]
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  if (params.some((p) => p.startsWith("*"))) throw new RecordShapeError(`field "starter_code": variadic parameters are not supported`);
  const required = params.filter((p) => !p.includes("=")).length;
  if (params.slice(0, required).some((p) => p.includes("="))) throw new RecordShapeError(`field "starter_code": a parameter without a default follows one with a default`);
  return { name: m[1], params: params.map((p) => p.split(/[=:]/)[0].trim()), required };
}

/** Tagged JSON tree of a JSON value: every object becomes {"$dict": ...} so a key like "$set" is never a tag. */
function taggedFromJson(node: JsonNode): JsonNode {
  if (node.type === "array") return { type: "array", items: node.items.map(taggedFromJson), ...span };
  if (node.type === "object") {
    const pairs = node.entries.map(([k, v]): JsonNode => ({ type: "array", items: [{ type: "string", value: k, ...span }, taggedFromJson(v)], ...span }));
    return { type: "object", entries: [["$dict", { type: "array", items: pairs, ...span }]], ...span };
  }
  return node;
}

/** One argument line as a value: JSON first, then a Python literal; null when it is neither (a raw string). */
export function parseArgumentLine(line: string): JsonNode | null {
  try {
    return taggedFromJson(parseLossless(line).root);
  } catch {
    // not JSON; try Python below
  }
  try {
    return parsePythonLiteral(line);
  } catch {
    return null;
  }
}

interface RawTest {
  where: string;
  lines: string[];
  output: JsonNode;
}

function rawTests(o: JsonObjectNode, field: string): RawTest[] {
  return arrayField(o, field).map((node, i) => {
    const where = `${field}[${i}]`;
    if (node.type !== "object") throw new RecordShapeError(`${where} must be an object, found ${node.type}`);
    const input = getField(node, "input");
    if (input?.type !== "string") throw new RecordShapeError(`${where}.input must be a string`);
    const output = getField(node, "output");
    if (output?.type !== "array" || output.items.length !== 1) {
      throw new RecordShapeError(`${where}.output must be a list holding exactly one value (APPS's wrapped answer)`);
    }
    return { where, lines: input.value.split("\n"), output: output.items[0] };
  });
}

/** Splits `a, [b, c], "d,e"` at its top-level commas. */
function splitTopLevelCommas(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = "";
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

export type StatementArgumentKind = "text" | "value";

/**
 * What the statement's example calls `name(...)` pass at each position: a quoted string ("text") or another
 * literal ("value"). Positions shown both ways, or only as names (`solve(st)`), give no evidence.
 */
export function statementArgumentKinds(statement: string, sig: StarterSignature): Map<number, StatementArgumentKind> {
  const seen = new Map<number, Set<StatementArgumentKind>>();
  const call = new RegExp(`\\b${sig.name}\\s*\\(([^()\\n]*(?:\\([^()\\n]*\\)[^()\\n]*)*)\\)`, "g");
  for (const m of statement.matchAll(call)) {
    const args = splitTopLevelCommas(m[1]);
    if (args.length < sig.required || args.length > sig.params.length) continue;
    args.forEach((arg, i) => {
      let kind: StatementArgumentKind;
      try {
        kind = parsePythonLiteral(arg).type === "string" ? "text" : "value";
      } catch {
        return;
      }
      if (!seen.has(i)) seen.set(i, new Set());
      seen.get(i)?.add(kind);
    });
  }
  const kinds = new Map<number, StatementArgumentKind>();
  for (const [i, set] of seen) if (set.size === 1) kinds.set(i, [...set][0]);
  return kinds;
}

const EXAMPLE_ARROW = String.raw`(?:===?|=>|-->|->|➞|→|#\s*=>|//\s*=>|should\s+return|returns?)`;

/** Parses `[args]` the way argument lines are read: JSON first, then a Python literal. */
function argumentListOf(text: string): JsonNode | null {
  const list = parseArgumentLine(`[${text}]`);
  return list?.type === "array" ? list : null;
}

/**
 * Examples written in the statement as `name(args) == result` (or `=>`, `->`, "should return", ...), one per
 * line, for tasks whose record has no sample_io (spec: such tasks take examples parsed from the statement).
 * Only examples whose arguments and result both parse are taken.
 */
export function statementExamples(statement: string, sig: StarterSignature): FunctionTestCase[] {
  const line = new RegExp(String.raw`\b${sig.name}\s*\(([^\n]*)\)\`?\s*${EXAMPLE_ARROW}\s*\`?([^\`\n]+?)\`?\s*[.;,]?\s*$`);
  const examples: FunctionTestCase[] = [];
  for (const text of statement.split("\n")) {
    const m = line.exec(text);
    if (!m) continue;
    const args = argumentListOf(m[1]);
    const result = parseArgumentLine(m[2].trim());
    if (!args || args.type !== "array" || !result) continue;
    if (args.items.length < sig.required || args.items.length > sig.params.length) continue;
    examples.push({ kind: "call", argsJson: stringifyNode(args), expectedJson: stringifyNode(result) });
  }
  return examples;
}

type PositionKind = "text" | "literal" | "mixed";

/** How each parameter position is read (see the file comment). */
function positionKinds(tests: RawTest[], sig: StarterSignature, statement: string): PositionKind[] {
  const hasText = new Set<number>();
  for (const t of tests) {
    if (t.lines.length < sig.required || t.lines.length > sig.params.length) continue;
    t.lines.forEach((line, i) => {
      if (parseArgumentLine(line) === null) hasText.add(i);
    });
  }
  // A one-parameter function whose inputs span several lines takes text.
  if (sig.params.length === 1 && tests.some((t) => t.lines.length > 1)) hasText.add(0);
  const shown = statementArgumentKinds(statement, sig);
  return sig.params.map((_, i) => {
    if (hasText.has(i)) return shown.get(i) === "value" ? "mixed" : "text";
    return shown.get(i) === "text" ? "text" : "literal";
  });
}

function argumentsOf(t: RawTest, sig: StarterSignature, kinds: PositionKind[]): string {
  const strings = new Set(kinds.flatMap((k, i) => (k === "text" ? [i] : [])));
  let args: string[] = t.lines;
  const count = sig.params.length;
  if (args.length > count) {
    if (strings.size !== 1) {
      throw new RecordShapeError(
        `${t.where}.input has ${args.length} lines for ${count} parameters, and ${strings.size === 0 ? "no" : "several"} string parameters could hold the extra lines`,
      );
    }
    const [p] = [...strings];
    const after = count - 1 - p;
    args = [...args.slice(0, p), args.slice(p, args.length - after).join("\n"), ...args.slice(args.length - after)];
  } else if (args.length < sig.required) {
    throw new RecordShapeError(`${t.where}.input has ${args.length} lines but ${sig.name} needs ${sig.required} arguments`);
  }
  const values = args.map((line, i): JsonNode => {
    if (strings.has(i)) return { type: "string", value: line, ...span };
    const value = parseArgumentLine(line);
    if (value === null && kinds[i] === "mixed") return { type: "string", value: line, ...span };
    if (value === null) throw new RecordShapeError(`${t.where}.input line ${i + 1} is neither JSON nor a Python literal: ${JSON.stringify(line.slice(0, 80))}`);
    return value;
  });
  return stringifyNode({ type: "array", items: values, ...span });
}

function buildAppsCallBased(r: JsonlRecord, seen: Map<string, number>): FunctionTask | null {
  const o = r.root;
  const starterNode = getField(o, "starter_code");
  if (starterNode === undefined || starterNode.type === "null") return null;
  if (starterNode.type !== "string") throw new RecordShapeError(`field "starter_code" must be a string, found ${starterNode.type}`);
  const starter = starterNode.value;
  if (starter.trim() === "") return null;
  const idNode = getField(o, "id");
  if (idNode === undefined || (idNode.type !== "number" && idNode.type !== "string")) throw new RecordShapeError('field "id" must be a number or string');
  const appsId = idNode.type === "number" ? idNode.raw : idNode.value;
  const sig = parseStarterSignature(starter);
  const samples = rawTests(o, "sample_io");
  const tests = rawTests(o, "test_list");
  if (tests.length === 0) throw new RecordShapeError(`field "test_list" is empty`);
  const statement = stringField(o, "description");
  const kinds = positionKinds([...samples, ...tests], sig, statement);
  const cases = (list: RawTest[]): FunctionTestCase[] =>
    list.map((t) => ({ kind: "call", argsJson: argumentsOf(t, sig, kinds), expectedJson: stringifyNode(taggedFromJson(t.output)) }));
  const privateTests = cases(tests);
  const publicTests = samples.length > 0 ? cases(samples) : statementExamples(statement, sig);
  const occurrence = (seen.get(appsId) ?? 0) + 1;
  seen.set(appsId, occurrence);
  const flags = [
    ...(publicTests.length === 0 ? [NO_PUBLIC_TESTS] : []),
    ...(occurrence > 1 ? [DUPLICATE_RECORD] : []),
    ...(hasContradiction([...publicTests, ...privateTests]) ? [CONTRADICTORY_TESTS] : []),
  ];
  return {
    kind: "function",
    id: occurrence > 1 ? `apps/${appsId}#${occurrence}` : `apps/${appsId}`,
    set: APPS_CALL_SET,
    language: "python",
    prompt: `${statement.trimEnd()}\n\nWrite the function:\n${starter.trim()}\n`,
    entryPoint: sig.name,
    testPreamble: appsComparisonPreamble(sig.name),
    publicTests,
    privateTests,
    limits: { ...DEFAULT_LIMITS },
    ...(flags.length ? { flags } : {}),
  };
}

/**
 * Runs after the candidate: wraps its entry point so the outermost call's result is compared as APPS does
 * (a tuple as a list, a list of tuples as a list of lists). Recursive calls through the global name reach
 * the candidate's own function unchanged.
 */
export function appsComparisonPreamble(entryPoint: string): string {
  return [
    "def _apps_as_compared(value):",
    "    if isinstance(value, tuple):",
    "        value = list(value)",
    "    if isinstance(value, list) and value and isinstance(value[0], tuple):",
    "        value = [list(v) if isinstance(v, tuple) else v for v in value]",
    "    return value",
    "def _apps_outermost(fn):",
    "    depth = [0]",
    "    def entry(*args):",
    "        if depth[0]:",
    "            return fn(*args)",
    "        depth[0] += 1",
    "        try:",
    "            return _apps_as_compared(fn(*args))",
    "        finally:",
    "            depth[0] -= 1",
    "    return entry",
    `if callable(globals().get(${JSON.stringify(entryPoint)})):`,
    `    ${entryPoint} = _apps_outermost(${entryPoint})`,
    "",
  ].join("\n");
}

export async function loadAppsCallBased(benchmarksRoot: string, file = join(benchmarksRoot, APPS_FILE)): Promise<LoadResult> {
  const contents = await readJsonl(file);
  const seen = new Map<string, number>();
  const { items, errors } = buildRecords(file, contents, (r) => buildAppsCallBased(r, seen));
  return { tasks: items.filter((t): t is FunctionTask => t !== null), errors };
}

// ---------------------------------------------------------------------------------------------------------
// Verification: no reference solutions, so known-answer programs.

/** The same tagged-JSON decoding the harness does, for programs that carry a table of answers. */
const DECODE = [
  "import json as _apps_json",
  "def _apps_decode(v):",
  "    if isinstance(v, list): return [_apps_decode(x) for x in v]",
  "    if isinstance(v, dict) and len(v) == 1:",
  "        (tag, inner), = v.items()",
  "        if tag == '$tuple': return tuple(_apps_decode(x) for x in inner)",
  "        if tag == '$set': return set(_apps_decode(x) for x in inner)",
  "        if tag == '$frozenset': return frozenset(_apps_decode(x) for x in inner)",
  "        if tag == '$dict': return {_apps_decode(k): _apps_decode(x) for k, x in inner}",
  "        if tag == '$float': return float(inner)",
  "    if isinstance(v, dict): return {k: _apps_decode(x) for k, x in v.items()}",
  "    return v",
];

/** A Python function `entryPoint` that returns, for each known argument list, the given answer. */
export function answerTableProgram(entryPoint: string, table: ReadonlyArray<readonly [string, string]>, wrapAnswer = ""): string {
  return [
    ...DECODE,
    `_APPS_TABLE = [(_apps_decode(_apps_json.loads(a)), _apps_json.loads(e)) for a, e in _apps_json.loads(${JSON.stringify(JSON.stringify(table))})]`,
    `def ${entryPoint}(*args):`,
    "    for known, answer in _APPS_TABLE:",
    "        if known == list(args):",
    `        ${wrapAnswer ? `    return ${wrapAnswer}(_apps_decode(answer))` : "    return _apps_decode(answer)"}`,
    "    raise KeyError('no known answer for these arguments')",
    "",
  ].join("\n");
}

/** The answer with one token changed: an int +1, a bool negated, a string or list extended, a dict given a key. */
export function changeOneToken(expectedJson: string): string {
  const root = parseLossless(expectedJson).root;
  const change = (n: JsonNode): JsonNode => {
    switch (n.type) {
      case "number":
        // A float moves by 1, beyond any tolerance the judge applies.
        return { ...n, raw: /^-?\d+$/.test(n.raw) ? (BigInt(n.raw) + 1n).toString() : Number.isFinite(Number(n.raw) + 1) ? String(Number(n.raw) + 1) : "0" };
      case "boolean":
        return { ...n, value: !n.value };
      case "string":
        return { ...n, value: `${n.value}x` };
      case "null":
        return { type: "number", raw: "0", ...span };
      case "array":
        return { ...n, items: [...n.items, { type: "number", raw: "0", ...span }] };
      case "object": {
        const [tag, inner] = n.entries[0] ?? ["", { type: "null", ...span }];
        if (n.entries.length === 1 && tag === "$dict" && inner.type === "array") {
          const extra: JsonNode = { type: "array", items: [{ type: "string", value: "$changed", ...span }, { type: "number", raw: "0", ...span }], ...span };
          return { ...n, entries: [[tag, { ...inner, items: [...inner.items, extra] }]] };
        }
        return { ...n, entries: [...n.entries, ["changed", { type: "number", raw: "0", ...span }]] };
      }
    }
  };
  return stringifyNode(change(root));
}

export function appsCallKnownAnswerPrograms(task: FunctionTask): VerificationProgram[] {
  const calls = [...task.publicTests, ...task.privateTests].flatMap((c) => (c.kind === "call" && c.expectedJson !== undefined ? [[c.argsJson, c.expectedJson] as const] : []));
  if (calls.length === 0) return [];
  const [firstArgs] = calls[0];
  // Every test with the first test's arguments gets the change (the samples repeat among the tests).
  const changed = calls.map(([a, e]) => [a, a === firstArgs ? changeOneToken(e) : e] as const);
  return [
    { label: "known answer", code: answerTableProgram(task.entryPoint, calls), mustPass: true },
    { label: "known answer with one token changed (test 1)", code: answerTableProgram(task.entryPoint, changed), mustPass: false },
    { label: "known answer wrapped in a list", code: answerTableProgram(task.entryPoint, calls, "(lambda v: [v])"), mustPass: false },
  ];
}

export const appsCallBasedSet: BenchmarkSet = {
  name: APPS_CALL_SET,
  file: APPS_FILE,
  trainable: true,
  load: (root) => loadAppsCallBased(root),
  verificationPrograms: (task: Task) => (task.kind === "function" ? appsCallKnownAnswerPrograms(task) : []),
};
