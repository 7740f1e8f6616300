// Executions per second of the whole sandboxed pipeline (sandbox + judge), timed end to end, against bare
// spawns of the same resolved interpreter binary at the same concurrency, in the same run:
//   trivial: a stdin/stdout task whose program prints a sum (runTests → sandbox → token judge), and
//   humaneval: HumanEval/0's reference through the function-level harness (one process per run).
// Each is measured with a fresh sandbox per run and with the fork server (pre-started Python per worker).
// Then `rlef verify`'s own loop (reference + mutants per task, verifyTasks) on the first HumanEval tasks with
// each sandbox: tasks per second and whether both gave the same verdicts.
// Run: node --import tsx bench/pipeline-throughput.ts [runs per phase] [HumanEval tasks to verify, default 20]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { judgeOutput } from "../server/env/judge";
import { runTests } from "../server/env/run";
import { createSandbox, resolveInterpreter, type Sandbox } from "../server/env/sandbox";
import { findSet } from "../server/env/tasks/registry";
import { DEFAULT_LIMITS, type FunctionTask, type StdioTask, type Task } from "../server/env/types";
import { resolveBenchmarksRoot } from "../server/env/verify/benchmarks-root";
import { verifyTasks } from "../server/env/verify/run-verify";

const runs = Number(process.argv[2] ?? 40);
const verifyCount = Number(process.argv[3] ?? 20);
const concurrency = availableParallelism();

const trivial: StdioTask = {
  kind: "stdio",
  id: "trivial",
  set: "bench",
  language: "python",
  statement: "",
  publicTests: [{ input: "100\n", output: "4950\n" }],
  privateTests: [],
  checker: { mode: "tokens" },
  limits: { ...DEFAULT_LIMITS },
};
const trivialCode = "n = int(input())\nprint(sum(range(n)))\n";

async function pool(n: number, job: () => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) await job();
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

function bare(python: string, dir: string, file: string, stdin: string, expected: string | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [file], { cwd: dir, stdio: ["pipe", "pipe", "pipe"], detached: true });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`bare run exited ${code}`));
      if (expected !== null && !judgeOutput(expected, out, { mode: "tokens" }).passed) return reject(new Error("bare run: wrong output"));
      resolve();
    });
    // A program that exits without reading its stdin closes the pipe: EPIPE here is not a failed run
    // (its exit status and output above are what count).
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin);
  });
}

async function sandboxed(sandbox: Sandbox, task: Task, code: string): Promise<void> {
  const report = await runTests(task, code, { sandbox, which: "all" });
  if (!report.passed) throw new Error(`${task.id}: the reference did not pass: ${JSON.stringify(report.results.find((r) => r.outcome !== "passed"))}`);
}

async function main(): Promise<void> {
  const python = await resolveInterpreter("python3");
  const humaneval = findSet("humaneval")!;
  const loaded = await humaneval.load(resolveBenchmarksRoot());
  const he = loaded.tasks.find((t) => t.id === "HumanEval/0") as FunctionTask;
  const heCode = he.referenceSolution!;
  const dir = mkdtempSync(join(tmpdir(), "rlef-bench-"));
  writeFileSync(join(dir, "trivial.py"), trivialCode);
  // The bare baseline of a HumanEval task: the usual program layout, all asserts in one process.
  const heTest = `${heCode}\n${he.testPreamble ?? ""}\ncheck(${he.entryPoint})\n`;
  writeFileSync(join(dir, "humaneval.py"), heTest);

  const fresh = await createSandbox();
  const forked = await createSandbox({ forkServer: true });
  const rows: [string, number, number, number][] = [];
  const verifyRows: [string, number, number][] = [];
  try {
    for (const [name, task, code, file, stdin, expected] of [
      ["trivial stdin/stdout", trivial, trivialCode, "trivial.py", "100\n", "4950\n"],
      ["HumanEval/0 (harness)", he, heCode, "humaneval.py", "", null],
    ] as const) {
      // Warm-up, then interleave the three so load changes hit all alike.
      await sandboxed(fresh, task, code);
      await sandboxed(forked, task, code);
      await bare(python, dir, file, stdin, expected);
      const b: number[] = [];
      const f: number[] = [];
      const k: number[] = [];
      for (let round = 0; round < 3; round++) {
        b.push(await pool(runs, () => bare(python, dir, file, stdin, expected)));
        f.push(await pool(runs, () => sandboxed(fresh, task, code)));
        k.push(await pool(runs, () => sandboxed(forked, task, code)));
      }
      const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[1];
      rows.push([name, median(b), median(f), median(k)]);
    }
    // rlef verify's loop as the CLI runs it (2 tasks in flight per core), fresh then forked, twice each.
    const verifyTasksList = loaded.tasks.slice(0, verifyCount);
    const verify = async (sandbox: Sandbox): Promise<[number, string]> => {
      const t0 = performance.now();
      const results = await verifyTasks(verifyTasksList, (t) => humaneval.verificationPrograms(t), {
        sandbox,
        timeMultiplier: 3,
        concurrency: concurrency * 2,
        exclusions: [],
      });
      const verdicts = results.map((r) => `${r.taskId}:${r.ok}`).join(",");
      return [verifyTasksList.length / ((performance.now() - t0) / 1000), verdicts];
    };
    const freshRates: number[] = [];
    const forkRates: number[] = [];
    for (let round = 0; round < 2; round++) {
      const [f, freshVerdicts] = await verify(fresh);
      const [k, forkVerdicts] = await verify(forked);
      if (freshVerdicts !== forkVerdicts) throw new Error(`verify verdicts differ:\nfresh ${freshVerdicts}\nfork  ${forkVerdicts}`);
      freshRates.push(f);
      forkRates.push(k);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    verifyRows.push([`rlef verify, first ${verifyTasksList.length} HumanEval tasks`, mean(freshRates), mean(forkRates)]);
  } finally {
    await fresh.dispose();
    await forked.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`pipeline throughput, ${runs} runs per phase, concurrency ${concurrency}, median of 3 rounds; interpreter ${python}`);
  console.log("| program | bare spawn | fresh sandbox + judge | fork server + judge | fresh/bare | fork/bare |");
  console.log("|---|---|---|---|---|---|");
  for (const [name, b, f, k] of rows) {
    console.log(`| ${name} | ${b.toFixed(1)}/s | ${f.toFixed(1)}/s | ${k.toFixed(1)}/s | ${(f / b).toFixed(2)}x | ${(k / b).toFixed(2)}x |`);
  }
  console.log("\n| verify loop (mean of 2 rounds, same verdicts both ways) | fresh sandbox | fork server | fork/fresh |");
  console.log("|---|---|---|---|");
  for (const [name, f, k] of verifyRows) console.log(`| ${name} | ${f.toFixed(2)} tasks/s | ${k.toFixed(2)} tasks/s | ${(k / f).toFixed(2)}x |`);
}

void main();
