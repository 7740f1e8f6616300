// The editor-agnostic session behind the language server: proposals are computed, never written, and one
// more round continues the same conversation from the last feedback.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentSession, WHOLE_FILE_MAX_LINES } from "../../../server/agent/session";
import { DEFAULT_SETTINGS } from "../../../server/lsp/settings";
import { ReplayPolicy } from "../../../server/policy/replay";

let dir: string;
let session: AgentSession;
let policy: ReplayPolicy;
const controls = () => ({ signal: new AbortController().signal, onEvent: () => {}, allowUnisolated: false });

before(() => {
  dir = mkdtempSync(join(tmpdir(), "rlef-session-"));
  writeFileSync(join(dir, "double.md"), "Double n.\n\n### Input\n```\n4\n```\n### Output\n```\n8\n```\n");
  policy = new ReplayPolicy({ responses: ["```python\nprint(int(input()) + 1)\n```", "```python\nprint(2 * int(input()))\n```"] });
  session = new AgentSession(DEFAULT_SETTINGS, async () => policy);
});
after(async () => {
  await session.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test("one more round sends the last attempt's real feedback and the hint, and proposes the new code", async () => {
  const file = join(dir, "double.md");
  const first = await session.solveProblemFile(file, readFileSync(file, "utf8"), { ...controls(), attempts: 1 }, "a");
  assert.equal(first.outcome, "failed");
  assert.equal(first.proposal.newText, "print(int(input()) + 1)\n");
  const second = await session.oneMoreRound("a", { ...controls(), hint: "double it" }, "b");
  assert.equal(second.outcome, "solved");
  assert.equal(second.trajectory.turns.length, 1);
  assert.equal(second.proposal.newText, "print(2 * int(input()))\n");
  assert.equal(second.proposal.file, join(dir, "double.py"));
  const prompt = policy.prompts[1];
  assert.equal(prompt.length, 3, "problem, the failed attempt, the feedback");
  assert.equal(prompt[1].role, "assistant");
  assert.match(prompt[2].content, /Expected output:\n8/);
  assert.match(prompt[2].content, /Your output:\n5/);
  assert.match(prompt[2].content, /Hint from the user: double it$/);
  assert.equal(existsSync(join(dir, "double.py")), false, "nothing is written");
});

test("one more round on a passing run needs a hint, and an unknown run is a clear error", async () => {
  await assert.rejects(session.oneMoreRound("b", controls(), "c"), /the tests already pass; give a hint/);
  await assert.rejects(session.oneMoreRound("zzz", controls(), "d"), /run zzz is not available any more/);
});

test("Fix Until Tests Pass rewrites a whole file only when it is small; otherwise it asks for the cursor in a function", async () => {
  const big = join(dir, "big.py");
  writeFileSync(big, "x = 1\n".repeat(WHOLE_FILE_MAX_LINES + 5));
  await assert.rejects(session.fixUntilTestsPass(dir, big, 3, controls()), /big\.py has \d+ lines: put the cursor inside the function to fix/);
  assert.equal(readFileSync(big, "utf8"), "x = 1\n".repeat(WHOLE_FILE_MAX_LINES + 5));
});
