// JavaScript/TypeScript sets: humaneval_x_js, multipl_e_js, multipl_e_ts, exercism_js.
// Public tests are the dataset's own tests (as for HumanEval); none of these sets has private tests.
import { join } from "node:path";
import ts from "typescript";
import { DEFAULT_LIMITS, type FunctionTask, type FunctionTestCase, type Language, type Task } from "../types";
import { buildRecords, readJsonl, type JsonlRecord } from "./jsonl";
import { getField, RecordShapeError, stringField, type JsonNode, type JsonObjectNode } from "./lossless-json";
import type { BenchmarkSet, LoadResult, VerificationProgram } from "./set";

/** Flag on a task whose own data is wrong upstream; `rlef verify` lists these in its exclusion list. */
export const DATASET_ERROR = "dataset-error";

/**
 * Upstream data errors per set and task, with the evidence found here (`rlef verify` lists them in its
 * exclusion list). Each task keeps its tests but carries DATASET_ERROR, and its verification programs are still
 * produced, so verify shows the failure the evidence describes.
 */
export const JS_DATASET_ERRORS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  humaneval_x_js: {
    "JavaScript/112": "canonical solution fails its own test: reference run, public test 1 is a wrong answer (humaneval_x_js README: 161 of 164 pass)",
    "JavaScript/155": "canonical solution fails its own test: reference run, public test 8 is a wrong answer (humaneval_x_js README: 161 of 164 pass)",
    "JavaScript/162": "test and reference require the npm package js-md5, which the benchmark does not ship: reference run, public test 1 throws \"Cannot find module 'js-md5'\"",
  },
  multipl_e_js: {
    HumanEval_51_remove_vowels: "test program has a raw newline inside a string literal (SyntaxError), so no program can pass (multipl_e_humaneval_js_ts README)",
    HumanEval_92_any_int: "asserts any_int(3, 4, 7) === true and any_int(3.0, 4, 7) === false, but 3.0 and 3 are the same JS number: no program can pass both",
  },
  multipl_e_ts: {
    HumanEval_92_any_int: "asserts any_int(3, 4, 7) === true and any_int(3.0, 4, 7) === false, but 3.0 and 3 are the same JS number: no program can pass both",
  },
};

/** The documented data error of a task, if any. */
export function jsDatasetError(set: string, taskId: string): string | undefined {
  return JS_DATASET_ERRORS[set]?.[taskId];
}

/** console.assert only prints in Node; HumanEval-X's tests need it to throw. */
export const THROWING_CONSOLE_ASSERT = [
  "console.assert = (condition, ...message) => {",
  "  if (condition) return;",
  '  const error = new Error(message.length > 0 ? message.join(" ") : "Assertion failed");',
  "  error.isAssertionShim = true;",
  "  throw error;",
  "};",
  "",
].join("\n");

// ---------------------------------------------------------------------------------------------------------
// Splitting a test program into cases

/** Calls that are one test case: `assert(...)`, `assert.deepEqual(...)`, `console.assert(...)`. */
function isAssertCall(statement: ts.Statement): statement is ts.ExpressionStatement & { expression: ts.CallExpression } {
  if (!ts.isExpressionStatement(statement) || !ts.isCallExpression(statement.expression)) return false;
  const callee = statement.expression.expression;
  if (ts.isIdentifier(callee)) return callee.text === "assert";
  return ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && (callee.expression.text === "assert" || (callee.expression.text === "console" && callee.name.text === "assert"));
}

/** The body of `function NAME() {…}` or `const NAME = () => {…}` / `= function () {…}`. */
function testFunctionBody(statement: ts.Statement): { name: string; body: ts.Block } | null {
  if (ts.isFunctionDeclaration(statement) && statement.name && statement.body && statement.parameters.length === 0) {
    return { name: statement.name.text, body: statement.body };
  }
  if (ts.isVariableStatement(statement) && statement.declarationList.declarations.length === 1) {
    const d = statement.declarationList.declarations[0];
    const init = d.initializer;
    if (ts.isIdentifier(d.name) && init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) && init.parameters.length === 0 && ts.isBlock(init.body)) {
      return { name: d.name.text, body: init.body };
    }
  }
  return null;
}

function isCallOf(statement: ts.Statement, name: string): boolean {
  return ts.isExpressionStatement(statement) && ts.isCallExpression(statement.expression) && statement.expression.arguments.length === 0 && ts.isIdentifier(statement.expression.expression) && statement.expression.expression.text === name;
}

export interface SplitTests {
  cases: FunctionTestCase[];
  /** The assert calls, one per case, when the program is a flat list of them; null when run as one script. */
  asserts: ts.CallExpression[] | null;
  source: ts.SourceFile;
}

/**
 * A test program that is one test function of flat asserts (after setup statements such as
 * `let candidate = f;`) becomes one case per assert, each a block holding the program's other top-level
 * statements, the setup and that assert, so cases share nothing and declare no globals. Anything else
 * (loops, asserts after other statements, more than one test function) runs as written, as one script,
 * wrapped in a block for the same reason.
 */
export function splitTestProgram(test: string, language: Language): SplitTests {
  const source = ts.createSourceFile(language === "typescript" ? "test.ts" : "test.js", test, ts.ScriptTarget.ES2022, true, language === "typescript" ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const text = (node: ts.Node) => node.getText(source);
  // `declare var require: any;` is a type-only statement, and illegal inside a block.
  const isDeclare = (s: ts.Statement) => ts.canHaveModifiers(s) && (ts.getModifiers(s) ?? []).some((m) => m.kind === ts.SyntaxKind.DeclareKeyword);
  const whole: SplitTests = { cases: [{ kind: "script", code: `{\n${source.statements.filter((s) => !isDeclare(s)).map(text).join("\n")}\n}\n` }], asserts: null, source };
  const functions = source.statements.map((s, i) => ({ i, fn: testFunctionBody(s) })).filter((x) => x.fn !== null);
  if (functions.length !== 1) return whole;
  const { i: fnIndex, fn } = functions[0] as { i: number; fn: { name: string; body: ts.Block } };
  const calls = source.statements.filter((s) => isCallOf(s, fn.name));
  if (calls.length !== 1) return whole;
  const shared = source.statements.filter((s, i) => i !== fnIndex && s !== calls[0] && !isDeclare(s)).map(text);
  const setup: string[] = [];
  const asserts: ts.CallExpression[] = [];
  for (const statement of fn.body.statements) {
    if (isAssertCall(statement)) asserts.push(statement.expression);
    else if (asserts.length === 0) setup.push(text(statement));
    else return whole; // a statement between asserts may change what later asserts see
  }
  if (asserts.length === 0) return whole;
  const prefix = [...shared, ...setup].join(" ");
  return { cases: asserts.map((a) => ({ kind: "assert", code: `{ ${prefix}\n${text(a)};\n}\n` })), asserts, source };
}

// ---------------------------------------------------------------------------------------------------------
// Verification programs

const JS_COMPARISON_FLIP: Partial<Record<ts.SyntaxKind, string>> = {
  [ts.SyntaxKind.EqualsEqualsEqualsToken]: "!==",
  [ts.SyntaxKind.ExclamationEqualsEqualsToken]: "===",
  [ts.SyntaxKind.EqualsEqualsToken]: "!=",
  [ts.SyntaxKind.ExclamationEqualsToken]: "==",
  [ts.SyntaxKind.LessThanToken]: ">=",
  [ts.SyntaxKind.GreaterThanEqualsToken]: "<",
  [ts.SyntaxKind.GreaterThanToken]: "<=",
  [ts.SyntaxKind.LessThanEqualsToken]: ">",
};

const JS_ARITHMETIC_SWAP: Partial<Record<ts.SyntaxKind, string>> = {
  [ts.SyntaxKind.PlusToken]: "-",
  [ts.SyntaxKind.MinusToken]: "+",
  [ts.SyntaxKind.AsteriskToken]: "/",
  [ts.SyntaxKind.SlashToken]: "*",
};

/** The node is (inside) the condition of a while, do-while or for loop. */
function inLoopCondition(node: ts.Node): boolean {
  for (let child = node, parent = node.parent; parent; child = parent, parent = parent.parent) {
    if ((ts.isWhileStatement(parent) || ts.isDoStatement(parent)) && parent.expression === child) return true;
    if (ts.isForStatement(parent) && parent.condition === child) return true;
    if (ts.isBlock(parent) || ts.isSourceFile(parent)) return false;
  }
  return false;
}

/**
 * The deterministic one-token mutant of a JS/TS program, the first rule that applies, in source order:
 * 1. the first comparison outside loop conditions is negated (`===`↔`!==`, `==`↔`!=`, `<`↔`>=`, `>`↔`<=`);
 *    a negated loop condition mostly runs forever, which fails too, but only after the whole time limit;
 * 2. the first arithmetic operator is swapped (`+`↔`-`, `*`↔`/`);
 * 3. the first integer literal n becomes n+1;
 * 4. the first string literal gets an "x" appended;
 * 5. the first `return EXPR` becomes `return void EXPR` (one token inserted: the function returns undefined).
 * Found on the syntax tree, so comments, regular expressions and `=>` are never touched. Null when no rule applies.
 */
export function mutateJsOneToken(code: string, language: Language): { code: string; label: string } | null {
  const source = ts.createSourceFile(language === "typescript" ? "m.ts" : "m.js", code, ts.ScriptTarget.ES2022, true, language === "typescript" ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const firsts: { comparison?: ts.BinaryExpression; arithmetic?: ts.BinaryExpression; integer?: ts.NumericLiteral; string?: ts.StringLiteral; ret?: ts.Expression } = {};
  const visit = (node: ts.Node): void => {
    if (ts.isBinaryExpression(node)) {
      if (!firsts.comparison && JS_COMPARISON_FLIP[node.operatorToken.kind] !== undefined && !inLoopCondition(node)) firsts.comparison = node;
      if (!firsts.arithmetic && JS_ARITHMETIC_SWAP[node.operatorToken.kind] !== undefined) firsts.arithmetic = node;
    }
    if (!firsts.integer && ts.isNumericLiteral(node) && /^\d+$/.test(node.text)) firsts.integer = node;
    if (!firsts.string && ts.isStringLiteral(node) && !ts.isImportDeclaration(node.parent) && !ts.isExportDeclaration(node.parent)) firsts.string = node;
    if (!firsts.ret && ts.isReturnStatement(node) && node.expression) firsts.ret = node.expression;
    ts.forEachChild(node, visit);
  };
  visit(source);
  const lineOf = (pos: number) => source.getLineAndCharacterOfPosition(pos).line + 1;
  const replace = (start: number, end: number, by: string) => ({
    code: code.slice(0, start) + by + code.slice(end),
    label: `mutant: '${code.slice(start, end)}' -> '${by}' at line ${lineOf(start)}`,
  });
  for (const [node, table] of [
    [firsts.comparison, JS_COMPARISON_FLIP],
    [firsts.arithmetic, JS_ARITHMETIC_SWAP],
  ] as const) {
    if (node) return replace(node.operatorToken.getStart(source), node.operatorToken.end, table[node.operatorToken.kind] as string);
  }
  if (firsts.integer) return replace(firsts.integer.getStart(source), firsts.integer.end, (BigInt(firsts.integer.text) + 1n).toString());
  if (firsts.string) {
    const text = firsts.string.getText(source);
    return replace(firsts.string.getStart(source), firsts.string.end, `${text.slice(0, -1)}x${text.slice(-1)}`);
  }
  if (firsts.ret) {
    const start = firsts.ret.getStart(source);
    return { code: `${code.slice(0, start)}void ${code.slice(start)}`, label: `mutant: 'return' -> 'return void' at line ${lineOf(start)}` };
  }
  return null;
}

function referenceAndMutant(task: Task): VerificationProgram[] {
  if (task.kind !== "function" || task.referenceSolution === undefined) return [];
  const programs: VerificationProgram[] = [{ label: "reference", code: task.referenceSolution, mustPass: true }];
  const mutant = mutateJsOneToken(task.referenceSolution, task.language);
  if (mutant) programs.push({ label: mutant.label, code: mutant.code, mustPass: false });
  return programs;
}

/** Changes a returned value so that no `assert.deepEqual` accepts it (one token of the answer changes). */
const CHANGE_VALUE = `function __change(v) {
  if (typeof v === "number") return v + 1;
  if (typeof v === "string") return v + "x";
  if (typeof v === "boolean") return !v;
  if (Array.isArray(v)) return v.length > 0 ? [__change(v[0]), ...v.slice(1)] : [0];
  if (v !== null && typeof v === "object") return { ...v, __changed: true };
  return 0;
}`;

/**
 * Known-answer programs for a MultiPL-E task, from its `assert.deepEqual(candidate(ARGS), EXPECTED)` calls:
 * the entry point answers each known argument list with its expected value (must pass); the same with the
 * first case's answer changed (must fail). Empty when an assert has another shape.
 */
export function knownAnswerFunctionPrograms(entryPoint: string, test: string, language: Language): VerificationProgram[] {
  const split = splitTestProgram(test, language);
  if (!split.asserts) return [];
  const rows: string[] = [];
  for (const call of split.asserts) {
    const [actual, expected] = call.arguments;
    if (call.arguments.length < 2 || !ts.isCallExpression(actual) || !ts.isIdentifier(actual.expression)) return [];
    rows.push(`[[${actual.arguments.map((a) => a.getText(split.source)).join(", ")}], ${expected.getText(split.source)}]`);
  }
  const typed = language === "typescript";
  const program = (changedRow: number) =>
    [
      typed ? `const __KNOWN: [any[], any][] = [` : `const __KNOWN = [`,
      rows.map((r) => `  ${r},`).join("\n"),
      "];",
      typed ? CHANGE_VALUE.replace("function __change(v)", "function __change(v: any): any") : CHANGE_VALUE,
      typed ? `function ${entryPoint}(...args: any[]): any {` : `function ${entryPoint}(...args) {`,
      "  const key = JSON.stringify(args);",
      "  for (let i = 0; i < __KNOWN.length; i++) {",
      `    if (JSON.stringify(__KNOWN[i][0]) === key) return i === ${changedRow} ? __change(__KNOWN[i][1]) : __KNOWN[i][1];`,
      "  }",
      "  return undefined;",
      "}",
      "",
    ].join("\n");
  return [
    { label: "known answer", code: program(-1), mustPass: true },
    { label: "known answer with one token changed (test 1)", code: program(0), mustPass: false },
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Records

function withFlags(task: FunctionTask): FunctionTask {
  if (jsDatasetError(task.set, task.id) !== undefined) task.flags = [DATASET_ERROR];
  return task;
}

function buildHumanEvalX(r: JsonlRecord): FunctionTask {
  const o = r.root;
  const id = stringField(o, "task_id");
  const prompt = stringField(o, "prompt");
  const declaration = stringField(o, "declaration");
  const entry = /(?:const|let|var|function)\s+([A-Za-z_$][\w$]*)/.exec(declaration);
  if (!entry) throw new RecordShapeError(`cannot find the function name in "declaration" of ${id}`);
  return withFlags({
    kind: "function",
    id,
    set: "humaneval_x_js",
    language: "javascript",
    prompt,
    entryPoint: entry[1],
    testPreamble: THROWING_CONSOLE_ASSERT,
    publicTests: splitTestProgram(stringField(o, "test"), "javascript").cases,
    privateTests: [],
    limits: { ...DEFAULT_LIMITS },
    referenceSolution: prompt + stringField(o, "canonical_solution"),
  });
}

function buildMultiplE(language: "javascript" | "typescript", set: string) {
  return (r: JsonlRecord): FunctionTask => {
    const o = r.root;
    const id = stringField(o, "name");
    const prompt = stringField(o, "prompt");
    const tests = stringField(o, "tests");
    const entry = /let candidate = ([A-Za-z_$][\w$]*);/.exec(tests);
    if (!entry) throw new RecordShapeError(`cannot find "let candidate = NAME;" in "tests" of ${id}`);
    return withFlags({
      kind: "function",
      id,
      set,
      language,
      prompt,
      entryPoint: entry[1],
      publicTests: splitTestProgram(tests, language).cases,
      privateTests: [],
      limits: { ...DEFAULT_LIMITS },
    });
  };
}

function stringMap(node: JsonNode | undefined, where: string): Record<string, string> {
  if (node === undefined || node.type === "null") return {};
  if (node.type !== "object") throw new RecordShapeError(`${where} must be an object of file texts, found ${node.type}`);
  const out: Record<string, string> = {};
  for (const [name, value] of node.entries) {
    if (value.type !== "string") throw new RecordShapeError(`${where}[${JSON.stringify(name)}] must be a string, found ${value.type}`);
    if (name.startsWith("/") || name.split("/").includes("..")) throw new RecordShapeError(`${where} has an unsafe file name ${JSON.stringify(name)}`);
    out[name] = value.value;
  }
  return out;
}

function buildExercism(r: JsonlRecord): FunctionTask {
  const o: JsonObjectNode = r.root;
  const id = stringField(o, "id");
  const stubs = stringMap(getField(o, "solution_files"), 'field "solution_files"');
  const specs = stringMap(getField(o, "test_files"), 'field "test_files"');
  const examples = Object.values(stringMap(getField(o, "example_solution_files"), 'field "example_solution_files"'));
  const stubNames = Object.keys(stubs);
  if (stubNames.length !== 1) throw new RecordShapeError(`expected exactly one solution file, found ${stubNames.length}`);
  if (Object.keys(specs).length === 0) throw new RecordShapeError("no Jest spec in test_files");
  if (examples.length !== 1) throw new RecordShapeError(`expected exactly one example solution, found ${examples.length}`);
  const solutionFile = stubNames[0];
  const testFiles: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) testFiles[name] = spec.replace(/\bxtest\(/g, "test(").replace(/\bxit\(/g, "it(");
  return {
    kind: "function",
    id,
    set: "exercism_js",
    language: "javascript",
    prompt: `${stringField(o, "instructions").trim()}\n\nWrite the file ${solutionFile}. It starts as:\n\n${stubs[solutionFile]}`,
    entryPoint: solutionFile,
    publicTests: Object.entries(testFiles).map(([, spec]) => ({ kind: "script", code: spec })),
    privateTests: [],
    limits: { ...DEFAULT_LIMITS },
    referenceSolution: examples[0],
    supportFiles: stringMap(getField(o, "support_files"), 'field "support_files"'),
    testFiles,
    solutionFile,
  };
}

async function loadRecords(root: string, file: string, build: (r: JsonlRecord) => FunctionTask): Promise<LoadResult> {
  const path = join(root, file);
  const { items, errors } = buildRecords(path, await readJsonl(path), build);
  return { tasks: items, errors };
}

function multiplEKnownAnswers(task: Task): VerificationProgram[] {
  if (task.kind !== "function" || task.language === "python") return [];
  // Each case is a block that ends with its assert (splitTestProgram); the asserts rebuild a flat test function.
  const asserts: string[] = [];
  for (const c of task.publicTests) {
    if (c.kind !== "assert") return [];
    const block = ts.createSourceFile("case.ts", c.code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS).statements[0];
    const last = block && ts.isBlock(block) ? block.statements[block.statements.length - 1] : undefined;
    if (!last) return [];
    asserts.push(last.getText());
  }
  const test = `function test() {\n${asserts.join("\n")}\n}\ntest();\n`;
  return knownAnswerFunctionPrograms(task.entryPoint, test, task.language);
}

// ---------------------------------------------------------------------------------------------------------
// The sets

const MULTIPL_E_JS = "multipl_e_humaneval_js_ts/humaneval-js.jsonl.gz";
const MULTIPL_E_TS = "multipl_e_humaneval_js_ts/humaneval-ts.jsonl.gz";

export const jsSets: BenchmarkSet[] = [
  {
    name: "humaneval_x_js",
    file: "humaneval_x_js/humaneval_js.jsonl.gz",
    trainable: false,
    load: (root) => loadRecords(root, "humaneval_x_js/humaneval_js.jsonl.gz", buildHumanEvalX),
    verificationPrograms: referenceAndMutant,
  },
  {
    name: "multipl_e_js",
    file: MULTIPL_E_JS,
    // MultiPL-E's licence forbids training on it.
    trainable: false,
    load: (root) => loadRecords(root, MULTIPL_E_JS, buildMultiplE("javascript", "multipl_e_js")),
    verificationPrograms: multiplEKnownAnswers,
  },
  {
    name: "multipl_e_ts",
    file: MULTIPL_E_TS,
    trainable: false,
    load: (root) => loadRecords(root, MULTIPL_E_TS, buildMultiplE("typescript", "multipl_e_ts")),
    verificationPrograms: multiplEKnownAnswers,
  },
  {
    name: "exercism_js",
    file: "exercism_js_polyglot/polyglot-javascript.jsonl.gz",
    // MIT, but an evaluation benchmark: the spec's trainable sets are CodeContests, APPS, Code Jam and MBPP.
    trainable: false,
    load: (root) => loadRecords(root, "exercism_js_polyglot/polyglot-javascript.jsonl.gz", buildExercism),
    verificationPrograms: referenceAndMutant,
  },
];
