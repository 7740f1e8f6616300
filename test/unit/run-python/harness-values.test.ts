// The harness script run directly with python3 (no sandbox): values recorded from a reference survive the
// trip through tagged JSON with their Python types, and only nonce-tagged lines count as results.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { harnessScript, parseHarnessOutput } from "../../../server/env/run/python-harness-run";
import { renderCall } from "../../../server/env/run/python-values";

const NONCE = "n0nce";

function runHarnessDirectly(spec: object): Array<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "rlef-harness-"));
  writeFileSync(join(dir, "python_harness.py"), harnessScript());
  writeFileSync(join(dir, "spec.json"), JSON.stringify({ nonce: NONCE, caseTimeMs: 5000, ...spec }));
  const out = execFileSync("python3", ["-I", "python_harness.py", "spec.json"], { cwd: dir, encoding: "utf8" });
  return parseHarnessOutput(out, NONCE).filter((e) => e.event === "result") as unknown as Array<Record<string, unknown>>;
}

const reference = [
  "def f(kind):",
  "    return {",
  "        'tuple': (1, (2, 3)), 'set': {1, 2}, 'complex': 1 + 2j, 'inf': float('-inf'),",
  "        'bigint': 2 ** 100, 'huge': 7 ** 20000, 'dict': {(1, 2): [3.5]}, 'none': None, 'object': range(3), 'float': 1.0,",
  "    }[kind]",
].join("\n");
const kinds = ["tuple", "set", "complex", "inf", "bigint", "huge", "dict", "none", "object", "float"];

test("values recorded from the reference compare equal with their Python types intact", () => {
  const cases = kinds.map((k, index) => ({ index, kind: "call", argsJson: JSON.stringify([k]) }));
  const recorded = runHarnessDirectly({ mode: "record", candidate: reference, entryPoint: "f", cases });
  assert.equal(recorded.length, kinds.length);
  assert.ok(recorded.every((r) => r.outcome === "passed"));
  assert.equal(recorded[kinds.indexOf("bigint")].valueJson, "1267650600228229401496703205376");
  // Integers of thousands of digits travel as hex (decimal conversion is quadratic and capped in Python 3.11).
  assert.match(String(recorded[kinds.indexOf("huge")].valueJson), /^\{"\$hexint": "[0-9a-f]+"\}$/);
  const judged = runHarnessDirectly({
    mode: "judge",
    candidate: reference,
    entryPoint: "f",
    comparison: { atol: 0 },
    cases: cases.map((c, i) => ({ ...c, expectedJson: recorded[i].valueJson })),
  });
  assert.deepEqual(judged.map((r) => r.outcome), kinds.map(() => "passed"));
});

test("a list where a tuple is expected, or an int where a float is expected with a different value, is wrong", () => {
  const cases = [
    { index: 0, kind: "call", argsJson: '["tuple"]', expectedJson: "[1, [2, 3]]" },
    { index: 1, kind: "call", argsJson: '["float"]', expectedJson: "1.5" },
  ];
  const judged = runHarnessDirectly({ mode: "judge", candidate: reference, entryPoint: "f", comparison: { atol: 0 }, cases });
  assert.deepEqual(judged.map((r) => r.outcome), ["wrong_answer", "wrong_answer"]);
  assert.equal(judged[0].actual, "(1, (2, 3))");
  assert.equal(judged[0].input, "f('tuple')");
});

test("lines without this run's nonce are ignored, and a cut-off line is dropped", () => {
  const out = `other {"event":"result","case":0,"outcome":"passed"}\n${NONCE} {"event":"result","case":1,"outcome":"timeout"}\n${NONCE} {"event":"res`;
  assert.deepEqual(parseHarnessOutput(out, NONCE).map((e) => e.case), [1]);
});

test("call cases render as Python calls, tagged values included", () => {
  assert.equal(
    renderCall("g", '[{"$tuple":[1]}, {"$set":[]}, {"$complex":"1j"}, [true, null, Infinity], "it\'s", {"k": {"$tuple": [1, 2]}}]'),
    `g((1,), set(), complex('1j'), [True, None, float('inf')], "it's", {'k': (1, 2)})`,
  );
});
