// Agent overhead per turn: everything but model time and test time (prompt building, extraction, feedback,
// context fitting, events), measured over real episodes through the real sandbox with a replay policy
// (whose generation time is near zero and measured anyway). Goal: under 10 ms per turn.
// Run: node --import tsx bench/agent-overhead.ts [episodes]
import { runAgentEpisode } from "../server/agent/agent";
import { runTests } from "../server/env/run";
import { createSandbox } from "../server/env/sandbox";
import { DEFAULT_LIMITS, type StdioTask } from "../server/env/types";
import { ReplayPolicy } from "../server/policy/replay";

const episodes = Number(process.argv[2] ?? 20);
const task: StdioTask = {
  kind: "stdio",
  id: "double",
  set: "bench",
  language: "python",
  statement: "Read n and print 2*n. ".repeat(40),
  publicTests: [
    { input: "3\n", output: "6\n" },
    { input: "5\n", output: "10\n" },
  ],
  privateTests: [{ input: "10\n", output: "20\n" }],
  checker: { mode: "tokens" },
  limits: { ...DEFAULT_LIMITS },
};
const wrong = "Attempt:\n```python\nn = int(input())\nprint(n + 1)\n```\n" + "Some explanation. ".repeat(50);
const right = "```python\nprint(2 * int(input()))\n```";

async function main(): Promise<void> {
  const sandbox = await createSandbox();
  const policy = new ReplayPolicy({ responses: [wrong, wrong, right] });
  const overheads: number[] = [];
  const tests: number[] = [];
  const gens: number[] = [];
  let events = 0;
  for (let i = 0; i < episodes; i++) {
    const t = await runAgentEpisode(task, policy, {
      runTests: (tk, code, which, signal) => runTests(tk, code, { sandbox, which, signal }),
      onEvent: () => events++,
    });
    for (const turn of t.turns) {
      overheads.push(turn.timings.overheadMs);
      tests.push(turn.timings.testMs);
      gens.push(turn.timings.generationMs);
    }
  }
  await sandbox.dispose();
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];
  console.log(`turns measured: ${overheads.length} (${episodes} episodes of 3 turns, ${events} events), sandbox ${sandbox.isolation.mode}`);
  console.log(`agent overhead per turn: mean ${mean(overheads).toFixed(2)} ms, p95 ${p95(overheads).toFixed(2)} ms (goal < 10 ms)`);
  console.log(`baseline in the same run — sandboxed test time per turn: mean ${mean(tests).toFixed(1)} ms; replay generation: mean ${mean(gens).toFixed(2)} ms`);
  console.log(`ratio overhead / test time: ${(mean(overheads) / mean(tests)).toFixed(4)}`);
}

void main();
