import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_RETRY, retryDelayMs } from "../../../server/policy/openai/retry-delay";
import { errorBodyDetail, httpError, isContextOverflow } from "../../../server/policy/openai/server-error";

test("backoff is full jitter under a cap that doubles per attempt and stops at maxDelayMs", () => {
  const settings = { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.deepEqual([0, 1, 2, 3, 4].map((a) => retryDelayMs(a, settings, null, () => 0.999999)), [99, 199, 399, 799, 999]);
  assert.deepEqual([0, 1, 2].map((a) => retryDelayMs(a, settings, null, () => 0)), [0, 0, 0]);
  assert.equal(retryDelayMs(1, settings, null, () => 0.5), 100);
});

test("Retry-After in seconds or as an HTTP date wins, capped at maxDelayMs", () => {
  assert.equal(retryDelayMs(0, DEFAULT_RETRY, "2"), 2000);
  assert.equal(retryDelayMs(0, DEFAULT_RETRY, "0"), 0);
  assert.equal(retryDelayMs(0, { ...DEFAULT_RETRY, maxDelayMs: 500 }, "3600"), 500);
  const inOneSecond = new Date(Date.now() + 1000).toUTCString();
  const delay = retryDelayMs(0, DEFAULT_RETRY, inOneSecond);
  assert.ok(delay > 0 && delay <= 1000, String(delay));
  const jittered = retryDelayMs(0, DEFAULT_RETRY, "soon", () => 0.5);
  assert.equal(jittered, 250, "an unreadable Retry-After falls back to backoff");
});

test("error bodies of OpenAI, vLLM (old and new) and Ollama all yield their message", () => {
  assert.deepEqual(errorBodyDetail('{"error":{"message":"m1","type":"invalid_request_error","code":"context_length_exceeded"}}'), { message: "m1", code: "context_length_exceeded" });
  assert.deepEqual(errorBodyDetail('{"object":"error","message":"m2","type":"BadRequestError","param":null,"code":400}'), { message: "m2", code: "BadRequestError" });
  assert.deepEqual(errorBodyDetail('{"error":"Unauthorized"}'), { message: "Unauthorized", code: "" });
  assert.deepEqual(errorBodyDetail('{"detail":"Not Found"}'), { message: "Not Found", code: "" });
  assert.deepEqual(errorBodyDetail("<html>502 Bad Gateway</html>"), { message: "<html>502 Bad Gateway</html>", code: "" });
  assert.deepEqual(errorBodyDetail("null"), { message: "null", code: "" });
});

test("context overflow is recognised by code or by the servers' wording, and nothing else", () => {
  assert.ok(isContextOverflow("anything", "context_length_exceeded"));
  assert.ok(isContextOverflow("This model's maximum context length is 4096 tokens. However, you requested 5000 tokens", ""));
  assert.ok(isContextOverflow("The decoder prompt (length 9000) is longer than the maximum model length of 8192.", ""));
  assert.ok(!isContextOverflow("temperature must be positive", "BadRequestError"));
  assert.equal(httpError(400, '{"error":{"message":"bad temperature"}}', "http://h/v1/chat/completions", "m").kind, "bad-request");
  assert.equal(httpError(503, "", "http://h/v1/chat/completions", "m").kind, "server");
  assert.equal(httpError(429, "", "http://h/v1/chat/completions", "m").kind, "rate-limited");
  assert.equal(httpError(403, "", "http://h/v1/chat/completions", "m").kind, "auth");
});
