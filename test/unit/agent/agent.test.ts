// The agent loop, end to end through the real environment (sandbox, judge, feedback), driven by a policy
// that replays recorded responses, so every multi-turn rule is checked deterministically.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { runAgentEpisode, type AgentEvent } from "../../../server/agent/agent";
import { runTests } from "../../../server/env/run";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { DEFAULT_LIMITS, type StdioTask } from "../../../server/env/types";
import { ReplayPolicy } from "../../../server/policy/replay";
import { loadOnnxPolicy } from "../../../server/policy/onnx/onnx-policy";
import { existsSync } from "node:fs";
import { join } from "node:path";

let sandbox: Sandbox;
before(async () => {
  sandbox = await createSandbox();
});
after(async () => {
  await sandbox.dispose();
});

const task: StdioTask = {
  kind: "stdio",
  id: "double",
  set: "user",
  language: "python",
  statement: "Read an integer n and print 2*n.",
  publicTests: [{ input: "3\n", output: "6\n" }],
  privateTests: [{ input: "10\n", output: "20\n" }],
  checker: { mode: "tokens" },
  limits: { ...DEFAULT_LIMITS, timeMs: 5000 },
};

const wrong = "Here you go:\n```python\nn = int(input())\nprint(n + 2)\n```\n";
const right = "Fixed:\n```python\nn = int(input())\nprint(2 * n)\n```\n";
const publicOnly = "```python\nn = int(input())\nprint(6 if n == 3 else 0)\n```\n";
const noCode = "I think you should multiply by two.";

function play(responses: string[], maxTurns = 3, signal?: AbortSignal, tokenDelayMs = 0) {
  const policy = new ReplayPolicy({ responses, tokenDelayMs });
  const events: AgentEvent[] = [];
  const done = runAgentEpisode(task, policy, {
    runTests: (t, code, which, s) => runTests(t, code, { sandbox, which, signal: s }),
    maxTurns,
    signal,
    onEvent: (e) => events.push(e),
  });
  return { policy, events, done };
}

test("a wrong first attempt gets the real feedback and the second attempt solves it", async () => {
  const { policy, events, done } = play([wrong, right]);
  const t = await done;
  assert.equal(t.outcome, "solved");
  assert.equal(t.turns.length, 2);
  assert.equal(t.turns[0].publicPassed, false);
  assert.equal(t.turns[0].results[0].outcome, "wrong_answer");
  assert.equal(t.turns[0].reward, 0);
  assert.equal(t.turns[1].reward, 1);
  assert.equal(t.totalReward, 1);
  // The second prompt holds the first answer and the feedback built from the sandbox run.
  const secondPrompt = policy.prompts[1];
  assert.equal(secondPrompt.length, 3);
  assert.equal(secondPrompt[1].content, wrong);
  assert.match(secondPrompt[2].content, /3/);
  assert.match(secondPrompt[2].content, /5/);
  assert.equal(t.turns[0].feedback, secondPrompt[2].content);
  // Streamed tokens reassemble the responses.
  const streamed = events.filter((e): e is Extract<AgentEvent, { type: "token" }> => e.type === "token" && e.turn === 1).map((e) => e.text).join("");
  assert.equal(streamed, wrong);
  assert.deepEqual(
    events.filter((e) => e.type !== "token").map((e) => e.type),
    ["turn-started", "code-extracted", "test-results", "feedback", "turn-started", "code-extracted", "test-results", "done"],
  );
  assert.ok(t.isolation && t.isolation.mode !== "none", "runs were isolated");
});

test("passing the public tests stops early, and the final reward uses the private tests too", async () => {
  const { done } = play([publicOnly, right]);
  const t = await done;
  assert.equal(t.turns.length, 1);
  assert.equal(t.turns[0].publicPassed, true);
  assert.equal(t.outcome, "failed");
  assert.equal(t.turns[0].reward, -1);
  assert.equal(t.final?.passed, false);
  assert.ok(t.final?.results.some((r) => r.visibility === "private" && r.outcome === "wrong_answer"));
});

test("the turn limit ends the episode with -1, and invalid answers cost -0.2 each, stacking on the last turn", async () => {
  const { done } = play([noCode, wrong, noCode]);
  const t = await done;
  assert.equal(t.turns.length, 3);
  assert.deepEqual(
    t.turns.map((x) => x.invalid),
    [true, false, true],
  );
  assert.deepEqual(
    t.turns.map((x) => Math.round(x.reward * 10) / 10),
    [-0.2, 0, -1.2],
  );
  assert.equal(t.outcome, "failed");
  assert.equal(t.final?.code, "");
});

test("more turns than three are allowed", async () => {
  const { done } = play([wrong, wrong, wrong, right], 5);
  const t = await done;
  assert.equal(t.turns.length, 4);
  assert.equal(t.outcome, "solved");
});

test("cancelling mid-generation stops the run with outcome cancelled", async () => {
  const controller = new AbortController();
  const { events, done } = play([wrong, right], 3, controller.signal, 5);
  const stopper = setInterval(() => {
    if (events.some((e) => e.type === "token")) {
      controller.abort();
      clearInterval(stopper);
    }
  }, 1);
  const t = await done;
  clearInterval(stopper);
  assert.equal(t.outcome, "cancelled");
  assert.equal(t.turns.length, 0);
  const tokens = events.filter((e) => e.type === "token").length;
  assert.ok(tokens < Array.from(wrong).length, `generation stopped early (${tokens} tokens)`);
});

test("with the real ONNX demo model, later turns extend the earlier token ids instead of re-tokenising them", async () => {
  const folder = join(__dirname, "..", "..", "..", "models", "demo");
  assert.ok(existsSync(join(folder, "onnx", "model.onnx")), `the demo model is missing from ${folder}: run bash .ci/install`);
  const policy = await loadOnnxPolicy(folder);
  try {
    const t = await runAgentEpisode(task, policy, {
      runTests: (tk, code, which, s) => runTests(tk, code, { sandbox, which, signal: s }),
      sampling: { temperature: 1, maxTokens: 24 },
      seed: 7,
    });
    assert.equal(t.turns.length, 3, "the tiny demo model does not solve the task");
    for (let i = 1; i < t.turns.length; i++) {
      const previous = [...t.turns[i - 1].promptTokenIds, ...t.turns[i - 1].completionTokenIds];
      assert.deepEqual(t.turns[i].promptTokenIds.slice(0, previous.length), previous, `turn ${i + 1} starts with turn ${i}'s exact ids`);
      assert.ok(t.turns[i].promptTokenIds.length > previous.length);
    }
    assert.equal(t.turns[0].completionLogprobs.length, t.turns[0].completionTokenIds.length);
  } finally {
    await policy.unload();
  }
});
