import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseLossless, sourceOf, stringifyNode, JsonSyntaxError, stringField, RecordShapeError } from "../../../server/env/tasks/lossless-json";
import { buildRecords, parseJsonlText, readJsonl } from "../../../server/env/tasks/jsonl";

test("integers beyond 2^53 keep every digit", () => {
  const doc = parseLossless('{"inputs": [[123456789012345678901234567890, -9007199254740993]]}');
  assert.equal(doc.root.type, "object");
  const inputs = doc.root.type === "object" ? doc.root.entries[0][1] : doc.root;
  assert.equal(sourceOf(doc, inputs), "[[123456789012345678901234567890, -9007199254740993]]");
  assert.equal(stringifyNode(inputs), "[[123456789012345678901234567890,-9007199254740993]]");
});

test("Python's Infinity, -Infinity and NaN literals are accepted as numbers", () => {
  const doc = parseLossless("[Infinity, -Infinity, NaN, 1.5e-3]");
  assert.equal(doc.root.type, "array");
  const raws = doc.root.type === "array" ? doc.root.items.map((n) => (n.type === "number" ? n.raw : n.type)) : [];
  assert.deepEqual(raws, ["Infinity", "-Infinity", "NaN", "1.5e-3"]);
});

test("the exact source of a sub-value is kept, including float spelling and string escapes", () => {
  const doc = parseLossless('{"a": [1.0, 2, "x\\"y\\u00e9"], "b": {"c": null}}');
  const a = doc.root.type === "object" ? doc.root.entries[0][1] : doc.root;
  assert.equal(sourceOf(doc, a), '[1.0, 2, "x\\"y\\u00e9"]');
  const s = a.type === "array" ? a.items[2] : a;
  assert.equal(s.type === "string" ? s.value : "", 'x"yé');
});

test("malformed JSON is rejected with the column", () => {
  assert.throws(() => parseLossless('{"a": [1, 2}'), (e: unknown) => e instanceof JsonSyntaxError && /column 12/.test((e as Error).message));
  assert.throws(() => parseLossless('{"a": 1} x'), JsonSyntaxError);
  assert.throws(() => parseLossless('"unterminated'), JsonSyntaxError);
  assert.throws(() => parseLossless("[01]"), JsonSyntaxError);
  assert.throws(() => parseLossless("[Inf]"), JsonSyntaxError);
  assert.throws(() => parseLossless("{'single': 1}"), JsonSyntaxError);
  assert.throws(() => parseLossless("[".repeat(10_000)), /nesting too deep/);
});

test("malformed lines become errors with file and 1-based line; good lines still load", () => {
  const text = ['{"task_id": "a"}', "", "{not json", "[1, 2]", '{"task_id": "b"}'].join("\n");
  const { records, errors } = parseJsonlText(text, "data.jsonl");
  assert.deepEqual(records.map((r) => r.line), [1, 5]);
  assert.deepEqual(errors.map((e) => [e.file, e.line]), [["data.jsonl", 3], ["data.jsonl", 4]]);
  assert.match(errors[0].message, /malformed JSON/);
  assert.match(errors[1].message, /must be a JSON object/);
});

test("a record with a missing or mistyped field is reported, not dropped silently", () => {
  const contents = parseJsonlText(['{"task_id": "a"}', '{"task_id": 7}', '{"other": 1}'].join("\n"), "f.jsonl");
  const { items, errors } = buildRecords("f.jsonl", contents, (r) => stringField(r.root, "task_id"));
  assert.deepEqual(items, ["a"]);
  assert.deepEqual(errors.map((e) => `${e.line}: ${e.message}`), ['2: field "task_id" must be a string, found number', '3: missing field "task_id"']);
});

test("a bug in a record builder is not disguised as a record error", () => {
  const contents = parseJsonlText('{"a": 1}', "f.jsonl");
  assert.throws(() => buildRecords("f.jsonl", contents, () => { throw new TypeError("bug"); }), TypeError);
  assert.ok(new RecordShapeError("x") instanceof Error);
});

test("gzip and plain JSONL files read the same; CRLF line ends are tolerated", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rlef-jsonl-"));
  const body = '{"n": 18446744073709551617}\r\n{"n": 2}\r\n';
  await writeFile(join(dir, "a.jsonl.gz"), gzipSync(body));
  await writeFile(join(dir, "a.jsonl"), body);
  for (const name of ["a.jsonl.gz", "a.jsonl"]) {
    const { records, errors } = await readJsonl(join(dir, name));
    assert.equal(errors.length, 0);
    assert.equal(records.length, 2);
    assert.equal(sourceOf(records[0].doc, records[0].root.entries[0][1]), "18446744073709551617");
  }
  await writeFile(join(dir, "broken.jsonl.gz"), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  const broken = await readJsonl(join(dir, "broken.jsonl.gz"));
  assert.equal(broken.records.length, 0);
  assert.match(broken.errors[0].message, /gzip/);
});
