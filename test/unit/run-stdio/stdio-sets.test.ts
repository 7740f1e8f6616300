// The stdin/stdout benchmark loaders: splits per spec/environment.md, hostile records, verification programs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  knownAnswerPrograms,
  mutatePythonOneToken,
  NO_PUBLIC_TESTS,
  parseCodeJamStatementSample,
  parseTimeLimit,
  stdioSets,
} from "../../../server/env/tasks/stdio-sets";
import type { StdioTask } from "../../../server/env/types";

const BENCHMARKS = join(__dirname, "..", "..", "..", "..", "shared", "benchmarks");

function set(name: string) {
  const found = stdioSets.find((s) => s.name === name);
  assert.ok(found, name);
  return found;
}

async function load(name: string): Promise<StdioTask[]> {
  const { tasks, errors } = await set(name).load(BENCHMARKS);
  assert.deepEqual(errors, []);
  return tasks as StdioTask[];
}

/** A benchmarks root holding one gzip JSONL file with the given lines. */
async function withRecords(file: string, lines: string[], run: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "stdio-sets-"));
  try {
    await mkdir(join(root, file, ".."), { recursive: true });
    await writeFile(join(root, file), gzipSync(lines.join("\n")));
    await run(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test("codecontests keeps the 136-task strict subset, public = the statement's leading tests", async () => {
  const tasks = await load("codecontests");
  assert.equal(tasks.length, 136);
  for (const t of tasks) {
    assert.ok(t.publicTests.length >= 1);
    assert.equal(t.publicTests.length + t.privateTests.length, 10 - (t.publicTests.length + t.privateTests.length === 9 ? 1 : 0));
    assert.ok(t.referenceSolution);
    assert.deepEqual(t.checker, { mode: "tokens" });
    assert.equal(t.limits.timeMs, 10_000);
    assert.equal(t.limits.memoryBytes, 1024 ** 3);
  }
  const first = tasks[0];
  assert.ok(first.statement.includes(first.publicTests[0].input.trim().split("\n")[0]));
});

test("codejam: samples public, every test set private, case-insensitive with the record's tolerance", async () => {
  const tasks = await load("codejam");
  assert.equal(tasks.length, 309);
  assert.ok(tasks.every((t) => t.checker.mode === "tokens" && t.checker.caseInsensitive === true));
  assert.ok(tasks.some((t) => t.checker.floatTolerance === 0.03));
  assert.ok(tasks.every((t) => t.privateTests.length >= 1));
  const flagged = tasks.filter((t) => t.flags?.includes(NO_PUBLIC_TESTS));
  // 16 records have no sample files; 15 samples parse from the statement, one loses its whitespace-only line.
  assert.deepEqual(flagged.map((t) => t.id), ["codejam_to_io/2014/code_jam_to_io_for_women/saturnalia"]);
  const zathras = tasks.find((t) => t.id.endsWith("/zathras"));
  assert.deepEqual(zathras?.publicTests, [
    {
      input: "4\n12345 12890 10 13 0\n12345 12890 10 13 1\n12345 12890 10 13 100\n12345 12890 10 13 5049\n",
      output: "Case #1: 12345 12890\nCase #2: 12341 12889\nCase #3: 11993 12676\nCase #4: 3099 3199\n",
    },
  ]);
});

test("a Code Jam statement sample parses in both layouts and is refused when its shape is off", () => {
  const stacked = "Intro\n\nSample\n\n Input\n\n2\n1\n2\n\n  Output\n\nCase #1: A\nCase #2: B\n\n Note: more text.";
  assert.deepEqual(parseCodeJamStatementSample(stacked), { input: "2\n1\n2\n", output: "Case #1: A\nCase #2: B\n" });
  const sideBySide = "Sample\n\n Input\n\n Output\n\n1\n5 5\n\nCase #1:\n+-+\n|x|\n+-+\n\n In Case #1 ...";
  assert.deepEqual(parseCodeJamStatementSample(sideBySide), { input: "1\n5 5\n", output: "Case #1:\n+-+\n|x|\n+-+\n" });
  assert.equal(parseCodeJamStatementSample("no sample here"), null);
  assert.equal(parseCodeJamStatementSample("Sample\nInput\n3\nOutput\nCase #1: 1\nCase #2: 2\n"), null, "fewer cases than T");
  assert.equal(parseCodeJamStatementSample("Sample\nInput\n2\nOutput\nCase #1: 1\nCase #3: 2\n"), null, "cases out of order");
  assert.equal(parseCodeJamStatementSample("Sample\nInput\nabc\nOutput\nCase #1: 1\n"), null, "no case count");
  assert.equal(parseCodeJamStatementSample("Sample\nInput\n2\n\nx\nOutput\nCase #1: 1\nCase #2: 2\n"), null, "a blank input line");
});

test("apps keeps the 52 stdin problems: sample_io public, test_list private", async () => {
  const tasks = await load("apps");
  assert.equal(tasks.length, 52);
  assert.ok(tasks.every((t) => t.id.startsWith("apps/") && t.publicTests.length > 0 && t.privateTests.length > 0));
});

test("xcodeeval: samples public, none private, the problem's own time limit", async () => {
  const tasks = await load("xcodeeval");
  assert.equal(tasks.length, 106);
  assert.ok(tasks.every((t) => t.privateTests.length === 0 && t.publicTests.length > 0));
  assert.ok(tasks.every((t) => t.publicTests.every((p) => p.input.endsWith("\n"))));
  assert.ok(tasks.some((t) => t.limits.timeMs === 500));
  assert.ok(tasks.some((t) => t.limits.timeMs === 7000));
  assert.equal(set("xcodeeval").trainable, false);
});

test("time limits are read strictly", () => {
  assert.equal(parseTimeLimit("2 seconds"), 2000);
  assert.equal(parseTimeLimit("0.5 seconds"), 500);
  assert.equal(parseTimeLimit("1 second"), 1000);
  assert.throws(() => parseTimeLimit("2 minutes"), /time_limit/);
  assert.throws(() => parseTimeLimit("0 seconds"), /positive/);
  assert.throws(() => parseTimeLimit(""), /time_limit/);
});

test("malformed codecontests records become errors with file and line, the rest still load", async () => {
  const good = JSON.stringify({
    id: "x",
    description: "d",
    tests: [{ input: "1\n", output: "1\n" }, { input: "2\n", output: "2\n" }],
    num_leading_tests_in_statement: 1,
    reference_solution_py: "print(input())",
    reference_passes_all: true,
    maybe_multiple_answers: false,
    maybe_interactive: false,
  });
  const lines = [
    good,
    "{not json",
    JSON.stringify({ ...JSON.parse(good), tests: "nope" }),
    JSON.stringify({ ...JSON.parse(good), num_leading_tests_in_statement: 5 }),
    JSON.stringify({ ...JSON.parse(good), reference_passes_all: "yes" }),
    JSON.stringify({ ...JSON.parse(good), tests: [{ input: 1, output: "1" }] }),
    "[1, 2]",
  ];
  await withRecords("codecontests_cf_subset/codecontests_cf_subset.jsonl.gz", lines, async (root) => {
    const { tasks, errors } = await set("codecontests").load(root);
    assert.equal(tasks.length, 1);
    assert.deepEqual(errors.map((e) => e.line).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7]);
    assert.ok(errors.every((e) => e.file.endsWith("codecontests_cf_subset.jsonl.gz")));
    const at = (line: number) => errors.find((e) => e.line === line)?.message ?? "";
    assert.match(at(3), /"tests" must be an array/);
    assert.match(at(4), /num_leading_tests_in_statement is 5/);
    assert.match(at(5), /reference_passes_all/);
    assert.match(at(6), /tests\[0\]\.input must be a string/);
    assert.match(at(7), /must be a JSON object/);
  });
});

test("malformed codejam and xcodeeval records are errors, not crashes", async () => {
  const cj = { id: "c", statement: "s", samples: [], test_sets: [{ tests: [{ input: "1\n", output: "Case #1: 1\n" }] }] };
  await withRecords(
    "google_codejam/codejam_kickstart_stdio.jsonl.gz",
    [
      JSON.stringify({ ...cj, checker: { type: "custom" } }),
      JSON.stringify({ ...cj, checker: { type: "tokens", float_tolerance: -1 } }),
      JSON.stringify({ ...cj, checker: { type: "tokens", float_tolerance: null } }),
    ],
    async (root) => {
      const { tasks, errors } = await set("codejam").load(root);
      assert.deepEqual(errors.map((e) => e.line), [1, 2]);
      assert.match(errors[0].message, /not supported/);
      assert.equal((tasks[0] as StdioTask).checker.floatTolerance, undefined, "null tolerance falls back to the default");
      assert.deepEqual(tasks[0].flags, [NO_PUBLIC_TESTS]);
    },
  );
  const x = { src_uid: "u", description: "d", input_spec: "i", output_spec: "o", notes: null, sample_inputs: ["1"], sample_outputs: ["1"], time_limit: "1 second" };
  await withRecords(
    "xcodeeval_prog_syn_val/prog_syn_val.jsonl.gz",
    [JSON.stringify(x), JSON.stringify({ ...x, sample_outputs: [] }), JSON.stringify({ ...x, time_limit: "fast" })],
    async (root) => {
      const { tasks, errors } = await set("xcodeeval").load(root);
      assert.equal(tasks.length, 1);
      assert.deepEqual(errors.map((e) => e.line), [2, 3]);
    },
  );
});

test("the Python mutant negates the last comparison outside strings, comments and while headers", () => {
  const code = '# a < b in a comment\ns = "x == y"\nt = """<=\n"""\nif n << 1 > 2:\n    print(1)\n';
  const m = mutatePythonOneToken(code);
  assert.equal(m?.code, code.replace("if n << 1 > 2", "if n << 1 <= 2"));
  assert.equal(m?.label, "mutant: '>' -> '<=' at line 5");
  assert.equal(mutatePythonOneToken("def f(x) -> int:\n    return x == 1\n")?.code, "def f(x) -> int:\n    return x != 1\n");
  assert.equal(mutatePythonOneToken("print(r'\\'<')\nprint(7)\n")?.label, "mutant: '7' -> '8' at line 2");
  assert.equal(mutatePythonOneToken("print('hi')\n"), null);
  assert.equal(mutatePythonOneToken("if a < b:\n    pass\nprint(a == b)\n")?.label, "mutant: '==' -> '!=' at line 3", "the last comparison");
  assert.equal(mutatePythonOneToken("x = 2 ** 3\nx += 1\nprint(x * 2 + 1)\n")?.label, "mutant: '+' -> '-' at line 3", "then the last arithmetic operator");
  assert.equal(mutatePythonOneToken("print(a // b)\n")?.code, "print(a * b)\n");
  assert.equal(mutatePythonOneToken("while n > 0:\n    n -= 1\nprint(n == 0)\n")?.label, "mutant: '==' -> '!=' at line 3", "while headers are skipped");
});

test("known-answer programs: the answer passes, one changed token fails, whitespace passes only for tokens", () => {
  const task: StdioTask = {
    kind: "stdio",
    id: "t",
    set: "user",
    language: "python",
    statement: "",
    publicTests: [{ input: "1\n", output: "0.5\n" }],
    privateTests: [{ input: "1\n", output: "0.5\n" }, { input: "2\n", output: "" }],
    checker: { mode: "tokens" },
    limits: { timeMs: 1000, memoryBytes: 1024 ** 3 },
  };
  const programs = knownAnswerPrograms(task);
  assert.deepEqual(programs.map((p) => [p.label, p.mustPass]), [
    ["known answer", true],
    ["known answer with one token changed (test 1)", false],
    ["reformatted whitespace", true],
  ]);
  assert.match(programs[1].code, /90\.5/, "the changed token is far outside any tolerance");
  assert.equal(knownAnswerPrograms({ ...task, checker: { mode: "exact" } })[2].mustPass, false);
  assert.deepEqual(knownAnswerPrograms({ ...task, publicTests: [], privateTests: [] }), []);
});
