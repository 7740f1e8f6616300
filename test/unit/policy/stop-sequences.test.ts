import { test } from "node:test";
import assert from "node:assert/strict";
import { StopSequenceMatcher } from "../../../server/policy/stop-sequences";

function stream(stops: string[], pieces: string[]) {
  const matcher = new StopSequenceMatcher(stops);
  let text = "";
  let stopped = false;
  for (const piece of pieces) {
    const scan = matcher.push(piece);
    text += scan.emit;
    if (scan.stopped) {
      stopped = true;
      break;
    }
  }
  if (!stopped) text += matcher.flush();
  return { text, stopped };
}

test("text before a stop sequence is emitted and the stop itself is not", () => {
  assert.deepEqual(stream(["```"], ["def f():\n", "  pass\n", "```", "more"]), { text: "def f():\n  pass\n", stopped: true });
});

test("a stop sequence split across pieces is still found and never leaks", () => {
  const matcher = new StopSequenceMatcher(["</code>"]);
  assert.deepEqual(matcher.push("x = 1</"), { emit: "x = 1", stopped: false });
  assert.deepEqual(matcher.push("co"), { emit: "", stopped: false });
  assert.deepEqual(matcher.push("de> tail"), { emit: "", stopped: true });
});

test("a held-back prefix that turns out not to be a stop is released", () => {
  assert.deepEqual(stream(["END"], ["a E", "N", "x"]), { text: "a ENx", stopped: false });
  assert.deepEqual(stream(["END"], ["a EN"]), { text: "a EN", stopped: false });
});

test("the earliest of several stop sequences wins", () => {
  assert.deepEqual(stream(["b", "abc"], ["xabc"]), { text: "x", stopped: true });
});

test("no stop sequences passes everything through", () => {
  assert.deepEqual(stream([], ["a", "b"]), { text: "ab", stopped: false });
});

test("empty or non-string stop sequences are rejected", () => {
  assert.throws(() => new StopSequenceMatcher([""]), /non-empty/);
  assert.throws(() => new StopSequenceMatcher([3 as unknown as string]), /non-empty/);
});
