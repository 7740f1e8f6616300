import { test } from "node:test";
import assert from "node:assert/strict";
import { approximateTokenCounter, fitToContext, type CountTokens } from "../../../server/env/context-budget";
import type { ChatMessage } from "../../../server/env/prompts";

// One token per character of content: makes every budget below easy to check by hand.
const perChar: CountTokens = (ms) => ms.reduce((n, m) => n + m.content.length, 0);

const problem: ChatMessage = { role: "user", content: "P".repeat(100) };
function attempt(k: number, feedbackChars: number): ChatMessage[] {
  return [
    { role: "assistant", content: `A${k}`.padEnd(50, "a") },
    { role: "user", content: `F${k}`.padEnd(feedbackChars, "f") },
  ];
}
const convo = [problem, ...attempt(1, 100), ...attempt(2, 100), ...attempt(3, 100)]; // 100 + 3*150 = 550

test("a conversation within the budget is returned unchanged", () => {
  const r = fitToContext(convo, { contextLength: 550, countTokens: perChar });
  assert.deepEqual(r.messages, convo);
  assert.deepEqual([r.droppedAttempts, r.truncatedFeedback, r.tokens, r.fits], [0, false, 550, true]);
});

test("the oldest failed attempts are dropped first, with their feedback", () => {
  const r = fitToContext(convo, { contextLength: 400, countTokens: perChar });
  assert.deepEqual(r.messages, [problem, ...attempt(2, 100), ...attempt(3, 100)]);
  assert.equal(r.droppedAttempts, 1);
  const r2 = fitToContext(convo, { contextLength: 399, countTokens: perChar });
  assert.deepEqual(r2.messages, [problem, ...attempt(3, 100)]);
  assert.equal(r2.droppedAttempts, 2);
});

test("then the latest feedback is cut by the truncation rule; problem and latest attempt stay", () => {
  const long = [problem, ...attempt(1, 100), ...attempt(2, 2000)];
  const r = fitToContext(long, { contextLength: 1000, countTokens: perChar });
  assert.equal(r.droppedAttempts, 1);
  assert.equal(r.truncatedFeedback, true);
  assert.equal(r.messages[0], problem);
  assert.deepEqual(r.messages[1], attempt(2, 0)[0]);
  assert.match(r.messages[2].content, /^F2f+\n\[… 1500 characters cut …\]\nf+$/);
  assert.ok(r.fits && r.tokens <= 1000);
});

test("when nothing more can be cut the result says it does not fit", () => {
  const r = fitToContext([problem, ...attempt(1, 5000)], { contextLength: 120, countTokens: perChar });
  assert.equal(r.fits, false);
  assert.equal(r.messages[0], problem);
  assert.equal(r.messages[1].content, attempt(1, 0)[0].content);
  assert.ok(r.messages[2].content.length < 300, "feedback cut down to the floor");
});

test("a system message before the problem is kept with it", () => {
  const system: ChatMessage = { role: "system", content: "S" };
  const r = fitToContext([system, ...convo], { contextLength: 251, countTokens: perChar });
  assert.deepEqual(r.messages, [system, problem, ...attempt(3, 100)]);
});

test("bad budgets and conversations without a problem are rejected", () => {
  assert.throws(() => fitToContext(convo, { contextLength: 0, countTokens: perChar }), /positive integer/);
  assert.throws(() => fitToContext([{ role: "assistant", content: "x" }], { contextLength: 10, countTokens: perChar }), /no user message/);
  assert.throws(() => approximateTokenCounter(0), /must be positive/);
});

test("the approximate counter charges 4 tokens per message plus ceil(chars / charsPerToken)", () => {
  assert.equal(approximateTokenCounter(4)([{ role: "user", content: "abcde" }]), 4 + 2);
});
