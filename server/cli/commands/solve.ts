// `rlef solve <problem file | set:id>`: one RLEF episode, shown live: the model's answer streams, then each
// attempt's test results and the feedback the model gets next; `--json` prints the trajectory instead.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { basename, resolve } from "node:path";
import { runAgentEpisode, type AgentEvent, type Trajectory } from "../../agent/agent";
import { runTests } from "../../env/run";
import { userProblemTask } from "../../env/tasks/task-file";
import { findSet } from "../../env/tasks/registry";
import type { Task } from "../../env/types";
import { resolveBenchmarksRoot } from "../../env/verify/benchmarks-root";
import { parseCommandArgs } from "../parse-args";
import { defaultSessionLogDir, SessionLogWriter } from "../../session-log/log";
import { AGENT_RUN_OPTIONS, numberOption, withAgentRun } from "../agent-run";

const USAGE = `usage: rlef solve <problem.md | problem.txt | task.json | set:task-id> [options]

Runs the agent: the model writes code, the code runs on the problem's examples (public tests) in the
sandbox, failures go back to the model, up to --attempts times; the last code is then judged on all tests.

options:
  --model DIR            ONNX model folder (default: the bundled demo model, models/demo)
  --attempts N           attempts (default 3)
  --temperature T        sampling temperature (default 0.2)
  --top-p P              nucleus sampling mass (default 0.95)
  --max-tokens N         most tokens per answer (default 512)
  --seed N               sampling seed (default 0)
  --threads N            inference threads (default: onnxruntime's choice)
  --json                 print the trajectory as JSON instead of the live view
  --benchmarks DIR       benchmarks root for set:id (default $RLEF_BENCHMARKS, else ../shared/benchmarks)
  --allow-unisolated     run model code without bubblewrap if it is unavailable (explicit consent)
  --log                  append the run to the session log, redacted (docs/session-log.md; off by default)
  --log-dir DIR          the session log folder (default $XDG_STATE_HOME/rlef/sessions, else
                         ~/.local/state/rlef/sessions: where the editor logs and the trainer reads)
`;


async function resolveTask(spec: string, benchmarks: string | undefined): Promise<Task> {
  if (existsSync(spec)) {
    const text = await readFile(spec, "utf8");
    return userProblemTask(text, spec, basename(spec));
  }
  const m = /^([a-z0-9_]+):(.+)$/.exec(spec);
  if (!m) throw new Error(`${spec}: no such file, and not of the form set:task-id`);
  const set = findSet(m[1]);
  if (!set) throw new Error(`unknown set '${m[1]}'`);
  const loaded = await set.load(resolveBenchmarksRoot(benchmarks));
  const task = loaded.tasks.find((t) => t.id === m[2]);
  if (!task) throw new Error(`set '${m[1]}' has no task '${m[2]}'`);
  return task;
}


class LiveView {
  private readonly tty = process.stdout.isTTY === true;
  private atLineStart = true;

  constructor(private readonly out: NodeJS.WritableStream) {}

  private write(text: string): void {
    if (text.length === 0) return;
    this.out.write(text);
    this.atLineStart = text.endsWith("\n");
  }

  private line(text: string): void {
    if (!this.atLineStart) this.write("\n");
    this.write(text + "\n");
  }

  private style(code: string, text: string): string {
    return this.tty ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  event(e: AgentEvent): void {
    switch (e.type) {
      case "turn-started":
        this.line(this.style("1", `── attempt ${e.turn} of ${e.maxTurns} ──`));
        break;
      case "token":
        this.write(e.text);
        break;
      case "code-extracted":
        if (e.invalid) this.line(this.style("31", "✗ no code block in this answer (invalid response)"));
        break;
      case "test-results": {
        const failing = e.results.filter((r) => r.outcome !== "passed");
        const iso = e.isolation ? ` [sandbox: ${e.isolation.mode}]` : "";
        if (e.runError) this.line(this.style("31", `✗ tests could not run: ${e.runError}`));
        else if (failing.length === 0) this.line(this.style("32", `✓ all ${e.results.length} public tests pass${iso}`));
        else this.line(this.style("31", `✗ ${failing.length} of ${e.results.length} public tests fail (${[...new Set(failing.map((r) => r.outcome))].join(", ")})${iso}`));
        break;
      }
      case "feedback":
        this.line(this.style("2", "feedback to the model:"));
        this.line(this.style("2", e.text.replace(/^/gm, "  │ ")));
        break;
      case "done":
        break;
    }
  }

  summary(t: Trajectory): void {
    const final = t.final;
    const verdict =
      t.outcome === "solved"
        ? this.style("32", `solved: the final code passes all ${final?.results.length ?? 0} tests (public and private)`)
        : t.outcome === "cancelled"
          ? "cancelled"
          : this.style("31", `not solved: ${final?.code === "" ? "the last answer had no code" : `${final?.results.filter((r) => r.outcome !== "passed").length ?? 0} of ${final?.results.length ?? 0} tests fail`}`);
    this.line(`${verdict} after ${t.turns.length} attempt(s), reward ${t.totalReward.toFixed(1)}, ${(t.wallMs / 1000).toFixed(1)} s`);
    if (t.isolation?.mode === "none") this.line(this.style("33", "warning: model code ran UNISOLATED (--allow-unisolated)"));
  }
}

export async function solveCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    "solve",
    argv,
    { ...AGENT_RUN_OPTIONS, attempts: { type: "string" }, log: { type: "boolean" }, "log-dir": { type: "string" } },
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    process.stderr.write(`rlef solve: expected one problem file or set:task-id\n\n${USAGE}`);
    return 2;
  }
  let task: Task;
  let logWriter: SessionLogWriter | null = null;
  let attempts: number, temperature: number, topP: number, maxTokens: number, seed: number;
  try {
    task = await resolveTask(positionals[0], values.benchmarks);
    attempts = numberOption(values.attempts, "attempts", 3, true);
    temperature = numberOption(values.temperature, "temperature", 0.2);
    topP = numberOption(values["top-p"], "top-p", 0.95);
    maxTokens = numberOption(values["max-tokens"], "max-tokens", 512, true);
    seed = numberOption(values.seed, "seed", 0, true);
    if (attempts < 1) throw new Error("--attempts must be a whole number >= 1");
    if (values["log-dir"] !== undefined && !values.log) throw new Error("--log-dir needs --log (the session log is off unless asked for)");
    if (values.log) logWriter = new SessionLogWriter(values["log-dir"] ? resolve(values["log-dir"]) : defaultSessionLogDir());
  } catch (e) {
    process.stderr.write(`rlef solve: ${(e as Error).message}\n`);
    return 2;
  }

  return withAgentRun("solve", values, async ({ policy, sandbox }, signal) => {
    const view = values.json ? null : new LiveView(process.stdout);
    if (view) {
      process.stdout.write(`task ${task.id} (${task.kind}, ${"publicTests" in task ? task.publicTests.length : "workspace"} public test(s)); model ${policy.name}; sandbox ${sandbox.isolation.mode}\n`);
      if (sandbox.isolation.mode === "none") process.stdout.write("warning: no isolation available; running model code UNISOLATED because --allow-unisolated was given\n");
    }
    const trajectory = await runAgentEpisode(task, policy, {
      runTests: (t, code, which, signal) => runTests(t, code, { sandbox, which, signal }),
      maxTurns: attempts,
      sampling: { temperature, topP, maxTokens },
      seed,
      signal,
      onEvent: (e) => view?.event(e),
    });
    if (view) view.summary(trajectory);
    else process.stdout.write(JSON.stringify(trajectory, null, 2) + "\n");
    if (logWriter && trajectory.turns.length > 0) {
      // The run's result stands whether or not it could be logged; a failure to log is said, and the exit code says it.
      try {
        const record = await logWriter.writeSession({ id: randomUUID(), command: "solve", client: "rlef cli", task, trajectory });
        const note = record.trainable ? "" : ` (not for training: ${record.notTrainableBecause})`;
        process.stderr.write(`logged to ${logWriter.dir} as ${record.id}${record.redactions.count ? `, ${record.redactions.count} redaction(s): ${record.redactions.kinds.join(", ")}` : ""}${note}\n`);
      } catch (err) {
        process.stderr.write(`rlef solve: the run was not logged: ${(err as Error).message}\n`);
        return 1;
      }
    }
    return trajectory.outcome === "cancelled" ? 130 : 0;
  });
}
