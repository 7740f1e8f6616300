// The backend under injected faults: dropped connections, stalls, error statuses, cancellation,
// and hostile servers. Retries happen only before any token reached the caller.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { createOpenAIPolicy, type OpenAIPolicyOptions } from "../../../server/policy/openai/openai-policy";
import { PolicyServerError } from "../../../server/policy/openai/server-error";
import type { GeneratedToken } from "../../../server/policy/types";
import { dropAfter, loadTranscript, replay, stallAfter, startScriptedServer, status, type ScriptedServer, type Step } from "./scripted-server";

const MESSAGES = [{ role: "user" as const, content: "Write add(a, b)." }];
const VLLM = loadTranscript("vllm-stream-logprobs.json");
const VLLM_TEXT = (VLLM.expected as { text: string }).text;
let server: ScriptedServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function policyWith(steps: Step[], options: Partial<OpenAIPolicyOptions> = {}) {
  server = await startScriptedServer(steps);
  return createOpenAIPolicy({ baseUrl: server.baseUrl, model: "m", env: {}, retry: { baseDelayMs: 5 }, ...options });
}

async function collect(generation: AsyncIterable<GeneratedToken>): Promise<{ tokens: GeneratedToken[]; error?: unknown }> {
  const tokens: GeneratedToken[] = [];
  try {
    for await (const t of generation) tokens.push(t);
    return { tokens };
  } catch (error) {
    return { tokens, error };
  }
}

function isServerError(kind: string, message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof PolicyServerError, String(error));
    assert.equal(error.kind, kind);
    assert.match(error.message, message);
    return true;
  };
}

test("a connection dropped mid-stream fails after the tokens already given, and is not retried", async () => {
  const policy = await policyWith([dropAfter(VLLM, 5), replay(VLLM)]);
  const generation = policy.generate({ messages: MESSAGES });
  const { tokens, error } = await collect(generation);
  assert.equal(tokens.length, 4, "the tokens before the drop reached the caller");
  assert.ok(isServerError("protocol", /after 4 tokens/)(error));
  await assert.rejects(generation.result, PolicyServerError);
  assert.equal(server?.requests.length, 1);
});

test("a stream that stalls between tokens hits the idle timeout", async () => {
  const policy = await policyWith([stallAfter(VLLM, 4, 3000)], { timeouts: { idleMs: 150 } });
  const { tokens, error } = await collect(policy.generate({ messages: MESSAGES }));
  assert.equal(tokens.length, 3);
  assert.ok(isServerError("timeout", /no token within 150 ms/)(error));
});

test("keep-alive comments do not count as tokens for the idle timeout", async () => {
  const policy = await policyWith([stallAfter(VLLM, 4, 3000, true)], { timeouts: { idleMs: 150 } });
  const { error } = await collect(policy.generate({ messages: MESSAGES }));
  assert.ok(isServerError("timeout", /no token within 150 ms/)(error));
});

test("a server that never answers hits the connect timeout; one that never starts streaming, the first-token timeout", async () => {
  const silent: Step = () => new Promise(() => undefined);
  const policy = await policyWith([silent], { timeouts: { connectMs: 150 } });
  await assert.rejects(policy.generate({ messages: MESSAGES }).result, isServerError("timeout", /no response within 150 ms/));
  await server?.close();
  const slow = await policyWith([stallAfter(VLLM, 0, 3000)], { timeouts: { firstTokenMs: 150 } });
  await assert.rejects(slow.generate({ messages: MESSAGES }).result, isServerError("timeout", /no first token within 150 ms/));
});

test("503 and 429 before any token are retried, and the retry succeeds", async () => {
  const lines: string[] = [];
  const policy = await policyWith([status(503, { error: "loading" }), status(429, { error: { message: "slow down" } }, { "retry-after": "0" }), replay(VLLM)], { log: (l) => lines.push(l) });
  const result = await policy.generate({ messages: MESSAGES }).result;
  assert.equal(result.text, VLLM_TEXT);
  assert.equal(server?.requests.length, 3);
  assert.equal(lines.filter((l) => /retrying in \d+ ms/.test(l)).length, 2);
});

test("500 is not retried: the error names the server and its message", async () => {
  const policy = await policyWith([status(500, { error: { message: "CUDA out of memory", type: "InternalServerError" } }), replay(VLLM)]);
  await assert.rejects(policy.generate({ messages: MESSAGES }).result, isServerError("server", /failed \(HTTP 500\): CUDA out of memory/));
  assert.equal(server?.requests.length, 1);
});

test("retries stop after maxRetries with the last error", async () => {
  const policy = await policyWith([status(502, "bad gateway"), status(502, "bad gateway"), status(502, "bad gateway")], { retry: { maxRetries: 2, baseDelayMs: 1 } });
  await assert.rejects(policy.generate({ messages: MESSAGES }).result, isServerError("server", /HTTP 502/));
  assert.equal(server?.requests.length, 3);
});

test("a refused connection is retried, then reported with the URL", async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const p = (probe.address() as { port: number }).port;
      probe.close(() => resolve(p));
    });
  });
  const lines: string[] = [];
  const policy = createOpenAIPolicy({ baseUrl: `http://127.0.0.1:${port}/v1`, model: "m", env: {}, retry: { maxRetries: 2, baseDelayMs: 1 }, log: (l) => lines.push(l) });
  await assert.rejects(
    policy.generate({ messages: MESSAGES }).result,
    isServerError("unreachable", new RegExp(`cannot connect to http://127\\.0\\.0\\.1:${port}/v1/chat/completions \\(ECONNREFUSED\\): is the server running\\?`)),
  );
  assert.equal(lines.filter((l) => l.includes("refused; retrying")).length, 2);
});

test("401 says to check the API key and is not retried", async () => {
  const policy = await policyWith([status(401, { error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" } })], { apiKey: "sk-wrong" });
  await assert.rejects(policy.generate({ messages: MESSAGES }).result, isServerError("auth", /HTTP 401.*check your API key/));
  assert.equal(server?.requests.length, 1);
});

test("the API key never appears in errors or logs, even when a server echoes it back", async () => {
  const key = "sk-test-SuperSecretKey-0123456789";
  const echo: Step = (req, res) => {
    res.writeHead(403, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: `key ${req.headers.authorization} is not allowed` } }));
  };
  const lines: string[] = [];
  const policy = await policyWith([echo], { apiKey: key, log: (l) => lines.push(l) });
  const generation = policy.generate({ messages: MESSAGES });
  const error = (await collect(generation)).error as Error;
  await assert.rejects(generation.result);
  assert.match(error.message, /Bearer \[REDACTED\] is not allowed; check your API key/);
  assert.equal(`${error.message}${error.stack}${lines.join("\n")}`.includes(key), false);
  assert.equal(server?.requests[0].headers.authorization, `Bearer ${key}`, "the key does reach the server");
});

test("the API key comes from the option, else RLEF_API_KEY, else OPENAI_API_KEY", async () => {
  const cases: [Partial<OpenAIPolicyOptions>, string | undefined][] = [
    [{ apiKey: "sk-option", env: { RLEF_API_KEY: "sk-rlef", OPENAI_API_KEY: "sk-openai" } }, "Bearer sk-option"],
    [{ env: { RLEF_API_KEY: "sk-rlef", OPENAI_API_KEY: "sk-openai" } }, "Bearer sk-rlef"],
    [{ env: { OPENAI_API_KEY: "sk-openai" } }, "Bearer sk-openai"],
    [{ env: {} }, undefined],
  ];
  for (const [options, expected] of cases) {
    const policy = await policyWith([replay(VLLM)], options);
    await policy.generate({ messages: MESSAGES }).result;
    assert.equal(server?.requests[0].headers.authorization, expected);
    await server?.close();
    server = undefined;
  }
});

test("cancelling at any token stops the stream there with finish reason 'cancelled'", async () => {
  for (const cancelAt of [1, 3, 7]) {
    const policy = await policyWith([stallAfter(VLLM, VLLM.body.length - 3, 5000)]);
    const controller = new AbortController();
    const generation = policy.generate({ messages: MESSAGES }, { signal: controller.signal });
    const tokens: GeneratedToken[] = [];
    for await (const token of generation) {
      tokens.push(token);
      if (tokens.length === cancelAt) controller.abort();
    }
    const result = await generation.result;
    assert.equal(result.finishReason, "cancelled");
    assert.ok(result.completionTokenIds.length >= cancelAt);
    assert.equal(result.text, tokens.map((t) => t.text).join(""));
    await server?.close();
    server = undefined;
  }
});

test("a generation cancelled before it starts sends nothing", async () => {
  const policy = await policyWith([replay(VLLM)]);
  const generation = policy.generate({ messages: MESSAGES }, { signal: AbortSignal.abort() });
  const result = await generation.result;
  assert.equal(result.finishReason, "cancelled");
  assert.equal(server?.requests.length, 0);
});

test("an error event in the middle of a stream (vLLM's way) fails with the server's message", async () => {
  const failing: Step = (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(VLLM.body.slice(0, 3).join(""));
    res.end(`data: ${JSON.stringify({ error: { message: "engine died", type: "InternalServerError", code: 500 } })}\n\n`);
  };
  const policy = await policyWith([failing]);
  await assert.rejects(policy.generate({ messages: MESSAGES }).result, isServerError("server", /failed mid-stream after 2 tokens: engine died/));
});

test("hostile streams: an event that is not JSON, or a stream without [DONE] or finish reason, are protocol errors", async () => {
  const notJson: Step = (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end("data: {oops\n\n");
  };
  const policy = await policyWith([notJson]);
  await assert.rejects(policy.generate({ messages: MESSAGES }).result, isServerError("protocol", /streamed an event that is not JSON: \{oops/));
  await server?.close();
  const truncated: Step = (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(VLLM.body.slice(0, 4).join(""));
  };
  const policy2 = await policyWith([truncated]);
  await assert.rejects(policy2.generate({ messages: MESSAGES }).result, isServerError("protocol", /ended after 3 tokens without a finish reason or \[DONE\]/));
});

test("non-streaming mode reads one JSON answer with its logprobs", async () => {
  const answer = {
    id: "x", object: "chat.completion", created: 1, model: "m",
    choices: [{ index: 0, message: { role: "assistant", content: "ab" }, logprobs: { content: [{ token: "a", logprob: -0.5, bytes: [97], top_logprobs: [] }, { token: "b", logprob: -1.5, bytes: [98], top_logprobs: [] }] }, finish_reason: "stop" }],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  };
  const policy = await policyWith([status(200, answer)], { stream: false });
  const generation = policy.generate({ messages: MESSAGES });
  const { tokens } = await collect(generation);
  assert.deepEqual(tokens.map((t) => [t.text, t.logprob]), [["a", -0.5], ["b", -1.5]]);
  assert.deepEqual((await generation.result).usage, { promptTokens: 3, completionTokens: 2 });
  assert.equal(server?.requests[0].body.stream, false);
});

test("invalid options and token-id prompts are refused before any request", async () => {
  const policy = await policyWith([]);
  await assert.rejects(policy.generate({ messages: MESSAGES }, { temperature: -1 }).result, /temperature must be a finite number >= 0/);
  await assert.rejects(policy.generate({ messages: MESSAGES }, { topP: 0 }).result, /topP must be in \(0, 1\]/);
  await assert.rejects(policy.generate({ messages: MESSAGES }, { maxTokens: 0 }).result, /maxTokens must be a positive integer/);
  await assert.rejects(policy.generate({ tokenIds: [1, 2] }).result, /take messages, not token ids/);
  assert.equal(server?.requests.length, 0);
  assert.throws(() => createOpenAIPolicy({ baseUrl: "ftp://x", model: "m" }), /must be an http\(s\) URL/);
});
