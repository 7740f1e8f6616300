// `rlef eval <set>`: multi-turn and single-turn solve rates (MT/ST 1@3, n@k) with bootstrap intervals,
// exactly as spec/rlef.md §5 defines them; resumable; optionally with the random-feedback ablation.
import { RandomFeedbackDonor } from "../../env/donor";
import { runTests } from "../../env/run";
import { findSet } from "../../env/tasks/registry";
import type { Task } from "../../env/types";
import { resolveBenchmarksRoot } from "../../env/verify/benchmarks-root";
import { parseMode, procedureSampling, type EvalMode } from "../../eval/procedure";
import { runEvaluation, type EvalConfig } from "../../eval/run-eval";
import { parseCommandArgs } from "../parse-args";
import { AGENT_RUN_OPTIONS, numberOption, withAgentRun } from "../agent-run";

const USAGE = `usage: rlef eval <set> [options]

Draws fresh rollouts for every draw and reports solve rates with 95% bootstrap intervals over problems.
Every model response counts as one sample.

options:
  --modes LIST           comma-separated: mt (MT 1@turns), st (ST 1@turns), n@k such as 10@100 (default mt,st)
  --turns N              turns per rollout / samples for st (default 3)
  --draws N              draws per problem and mode (default 5)
  --limit N              only the first N problems (with public tests) of the set
  --random-feedback      the random-feedback ablation (donor feedback from another problem of the set)
  --model DIR            ONNX model folder (default: the bundled demo model)
  --temperature T        sampling temperature (default 0.2; the paper's n@k with k > 3 uses 1.0)
  --top-p P              nucleus sampling mass (default 0.95); no top-k and no repetition penalty, whatever
                         the model's generation_config.json says (the spec's procedure)
  --max-tokens N         most tokens per answer (default 512)
  --seed N               base seed (default 0)
  --out FILE             JSONL results file; an existing one for the same evaluation is resumed
  --json                 print the summary as JSON
  --benchmarks DIR       benchmarks root (default $RLEF_BENCHMARKS, else ../shared/benchmarks)
  --allow-unisolated     run model code without bubblewrap if it is unavailable (explicit consent)
`;



function progressBar(done: number, total: number, started: number): string {
  const width = 30;
  const filled = total ? Math.round((done / total) * width) : width;
  const elapsed = (Date.now() - started) / 1000;
  const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} draws, ${elapsed.toFixed(0)} s elapsed${Number.isFinite(eta) ? `, ETA ${eta.toFixed(0)} s` : ""}`;
}

export async function evalCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    "eval",
    argv,
    {
      modes: { type: "string" },
      turns: { type: "string" },
      draws: { type: "string" },
      limit: { type: "string" },
      "random-feedback": { type: "boolean" },
      out: { type: "string" },
      ...AGENT_RUN_OPTIONS,
    },
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    process.stderr.write(`rlef eval: expected one set name\n\n${USAGE}`);
    return 2;
  }
  let modes: EvalMode[], turns: number, draws: number, limit: number, temperature: number, topP: number, maxTokens: number, seed: number;
  let setTasks: Task[];
  try {
    turns = numberOption(values.turns, "turns", 3, true);
    draws = numberOption(values.draws, "draws", 5, true);
    limit = numberOption(values.limit, "limit", 0, true);
    temperature = numberOption(values.temperature, "temperature", 0.2);
    topP = numberOption(values["top-p"], "top-p", 0.95);
    maxTokens = numberOption(values["max-tokens"], "max-tokens", 512, true);
    seed = numberOption(values.seed, "seed", 0, true);
    if (turns < 1 || draws < 1) throw new Error("--turns and --draws must be at least 1");
    modes = (values.modes ?? "mt,st").split(",").map((m) => parseMode(m.trim(), turns));
    const set = findSet(positionals[0]);
    if (!set) throw new Error(`unknown set '${positionals[0]}'`);
    const loaded = await set.load(resolveBenchmarksRoot(values.benchmarks));
    if (loaded.errors.length) throw new Error(`${loaded.errors.length} malformed record(s), first: ${loaded.errors[0].file}:${loaded.errors[0].line}: ${loaded.errors[0].message}`);
    setTasks = loaded.tasks;
  } catch (e) {
    process.stderr.write(`rlef eval: ${(e as Error).message}\n`);
    return 2;
  }
  // spec: a task without public tests is left out of multi-turn evaluation, with the count reported.
  const playable = setTasks.filter((t) => t.kind !== "workspace" && t.publicTests.length > 0);
  const left = setTasks.length - playable.length;
  const tasks = limit > 0 ? playable.slice(0, limit) : playable;

  return withAgentRun("eval", values, async ({ policy, sandbox }, signal) => {
    try {
      const run = (t: Task, code: string, which: "public" | "all", signal?: AbortSignal) => runTests(t, code, { sandbox, which, signal });
      const config: EvalConfig = {
        set: positionals[0],
        modes,
        draws,
        seed,
        randomFeedback: values["random-feedback"] === true,
        policy: policy.name,
        sampling: procedureSampling(temperature, topP, maxTokens),
        taskIds: tasks.map((t) => t.id),
      };
      const tty = process.stderr.isTTY === true;
      const started = Date.now();
      if (left > 0) process.stderr.write(`${left} task(s) of ${positionals[0]} have no public tests and are left out\n`);
      process.stderr.write(`evaluating ${tasks.length} problem(s) of ${positionals[0]}, ${draws} draw(s) each, modes ${modes.map((m) => m.kind).join(", ")}; sandbox ${sandbox.isolation.mode}\n`);
      const summary = await runEvaluation(tasks, policy, config, {
        resultsFile: values.out,
        signal,
        drawOptions: {
          runTests: run,
          sampling: procedureSampling(temperature, topP, maxTokens),
          randomFeedback: config.randomFeedback ? new RandomFeedbackDonor(setTasks, (t, code, which) => run(t, code, which)) : undefined,
        },
        onProgress: (done, total) => {
          const line = progressBar(done, total, started);
          if (tty) process.stderr.write(`\r${line}`);
          else if (done === total || done % Math.max(1, Math.floor(total / 10)) === 0) process.stderr.write(`${line}\n`);
        },
      });
      if (tty) process.stderr.write("\n");
      if (summary.resumed) process.stderr.write(`resumed: ${summary.resumed} draw(s) were already in ${values.out}\n`);
      if (values.json) {
        process.stdout.write(JSON.stringify({ set: config.set, problems: tasks.length, leftOut: left, draws, randomFeedback: config.randomFeedback, modes: summary.modes }, null, 2) + "\n");
      } else {
        for (const m of summary.modes) {
          const r = m.solveRate;
          process.stdout.write(`${m.mode.padEnd(10)} ${(r.rate * 100).toFixed(1)}%  [95% CI ${(r.low * 100).toFixed(1)}–${(r.high * 100).toFixed(1)}]  ${r.problems} problems × ${draws} draws, ${m.meanSamples.toFixed(2)} samples/draw\n`);
        }
      }
      return 0;
    } catch (e) {
      if (signal.aborted) {
        process.stderr.write(`\nrlef eval: interrupted; completed draws are in ${values.out ?? "(no --out file)"}${values.out ? ", run the same command to resume" : ""}\n`);
        return 130;
      }
      throw e;
    }
  });
}
