import { test } from "node:test";
import assert from "node:assert/strict";
import { charactersCutMarker, linesCutMarker, truncateText } from "../../../server/env/truncate";

test("text within both limits comes back unchanged", () => {
  assert.equal(truncateText("a\nb\nc", { maxChars: 5, maxLines: 3 }), "a\nb\nc");
  assert.equal(truncateText("", { maxChars: 2, maxLines: 2 }), "");
});

test("too many lines keeps the head and tail lines around a line marker", () => {
  const text = Array.from({ length: 10 }, (_, i) => `l${i}`).join("\n");
  assert.equal(truncateText(text, { maxChars: 1000, maxLines: 4 }), "l0\nl1\n[… 6 lines cut …]\nl8\nl9");
});

test("an odd line limit gives the extra line to the tail", () => {
  const text = Array.from({ length: 6 }, (_, i) => `l${i}`).join("\n");
  assert.equal(truncateText(text, { maxChars: 1000, maxLines: 3 }), `l0\n${linesCutMarker(3)}\nl4\nl5`);
});

test("too many characters keeps the head and tail characters around a character marker", () => {
  assert.equal(truncateText("abcdefghij", { maxChars: 4, maxLines: 10 }), "ab\n[… 6 characters cut …]\nij");
});

test("characters are code points, so a surrogate pair is never split", () => {
  const text = "😀😀😀😀😀😀";
  const cut = truncateText(text, { maxChars: 3, maxLines: 10 });
  assert.equal(cut, `😀\n${charactersCutMarker(3)}\n😀😀`);
  assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(cut), "no lone high surrogate");
});

test("line cutting happens before character cutting", () => {
  const text = ["x".repeat(10), "y", "z", "w".repeat(10)].join("\n");
  const out = truncateText(text, { maxChars: 12, maxLines: 2 });
  const afterLines = `${"x".repeat(10)}\n${linesCutMarker(2)}\n${"w".repeat(10)}`;
  assert.equal(out, `xxxxxx\n${charactersCutMarker(afterLines.length - 12)}\nwwwwww`);
});

test("the rule is deterministic: the same input always gives the same output", () => {
  const text = "q".repeat(5000) + "\n".repeat(100);
  const a = truncateText(text, { maxChars: 100, maxLines: 10 });
  assert.equal(truncateText(text, { maxChars: 100, maxLines: 10 }), a);
});

test("nonsensical limits are rejected with a clear error", () => {
  assert.throws(() => truncateText("abc", { maxChars: 0, maxLines: 5 }), /maxChars must be an integer >= 2/);
  assert.throws(() => truncateText("abc", { maxChars: 10, maxLines: 1.5 }), /maxLines must be an integer >= 2/);
  assert.throws(() => truncateText("abc", { maxChars: Number.NaN, maxLines: 5 }), /maxChars/);
});
