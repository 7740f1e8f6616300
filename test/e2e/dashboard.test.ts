// End-to-end: "RLEF: Open Training Dashboard" in a real VS Code (code-server), fed by a real `rlef-train train`
// run: the bundled demo policy trained on the toy's secret-letter tasks through the real environment service,
// with its live metrics stream on. The dashboard follows the stream while the run trains, then shows the same
// run again from its folder (metrics.jsonl, eval.jsonl) through the file dialog.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Frame, Page } from "playwright-core";
import { checkPrerequisites, installedExtensionsDir, openSession, ROOT, runCommand, waitFor } from "./harness";

const PYTHON = join(ROOT, ".venv", "bin", "python");
const ITERATIONS = 60;
const EVAL_EVERY = 10;

let scratch: string;
before(() => {
  checkPrerequisites();
  if (!existsSync(PYTHON)) throw new Error(`the trainer's virtual environment is missing: ${PYTHON} (run: bash .ci/install)`);
  installedExtensionsDir();
  scratch = mkdtempSync(join(tmpdir(), "rlef-e2e-dashboard-"));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

interface TrainerRun {
  process: ChildProcess;
  streamUrl: Promise<string>;
  exited: Promise<number | null>;
  log(): string;
}

/** Starts `rlef-train train` on the demo policy and the toy's 20 secret-letter tasks (5 held out), streaming. */
function startTrainer(outDir: string): TrainerRun {
  const tasks = join(scratch, "tasks.jsonl");
  const made = spawnSync(
    PYTHON,
    [
      "-c",
      "import json, sys\nfrom rlef_trainer.toy import SECRET_VALUES, secret_task\n" +
        "open(sys.argv[1], 'w').write(''.join(json.dumps(secret_task(i, s)) + '\\n' for i, s in enumerate(SECRET_VALUES)))",
      tasks,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(made.status, 0, `writing the toy tasks failed: ${made.stderr}`);
  const config = join(scratch, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      model: join(ROOT, "models", "demo"),
      tasks,
      out_dir: outDir,
      mode: "full",
      device: "cpu",
      dtype: "float32",
      torch_threads: 1,
      lr: 1e-4,
      rollouts_per_iteration: 8,
      minibatch_size: 8,
      generation_batch_size: 8,
      max_turns: 3,
      max_new_tokens: 16,
      iterations: ITERATIONS,
      checkpoint_every: 0,
      env_workers: 1,
      valid_fraction: 0.25,
      eval_every: EVAL_EVERY,
      eval_draws: 1,
      metrics_port: 0,
    }),
  );
  let log = "";
  const child = spawn(PYTHON, ["-m", "rlef_trainer.cli", "train", "--config", config], {
    cwd: ROOT,
    env: { ...process.env, OMP_NUM_THREADS: "1", TRANSFORMERS_VERBOSITY: "error", HF_HUB_OFFLINE: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const streamUrl = (async () => {
    let url: string | undefined;
    await waitFor(() => (url = /metrics stream: (ws:\/\/127\.0\.0\.1:\d+)/.exec(log)?.[1]) !== undefined || child.exitCode !== null, 120_000, "the trainer's metrics stream");
    if (!url) throw new Error(`the trainer exited (${child.exitCode}) before its metrics stream started:\n${log.slice(-4000)}`);
    return url;
  })();
  return { process: child, streamUrl, exited, log: () => log };
}

/** The dashboard webview whose source line matches `source`, once its state badge matches `state`. */
async function dashboardFrame(page: Page, source: RegExp, state: RegExp, timeoutMs: number): Promise<Frame> {
  let found: Frame | null = null;
  await waitFor(
    async () => {
      for (const frame of page.frames()) {
        const where = await frame.locator("#source").textContent({ timeout: 200 }).catch(() => null);
        const badge = await frame.locator("#status").textContent({ timeout: 200 }).catch(() => null);
        if (where !== null && badge !== null && source.test(where) && state.test(badge)) {
          found = frame;
          return true;
        }
      }
      return false;
    },
    timeoutMs,
    `a dashboard on ${String(source)} in state ${String(state)}`,
  );
  return found as unknown as Frame;
}

/** Picks the quick pick's row that shows `label`. */
async function pick(page: Page, label: string): Promise<void> {
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: label }).first();
  await row.waitFor({ timeout: 15_000 });
  await row.click();
}

/** The legend readouts of one chart (by its title), as "label value" strings. */
async function legend(frame: Frame, title: string): Promise<string[]> {
  const figure = frame.locator("figure.chart", { has: frame.locator(".chart-title", { hasText: title }) });
  return (await figure.locator(".legend-item").allTextContents()).map((t) => t.replace(/\s+/g, " ").trim());
}

/** What the dashboard's legend shows for a value: media/dashboard-plot.js's own formatNumber, loaded as the
 * webview loads it (a plain script that sets globalThis.RLEFDashboardPlot). */
const plotScript: { RLEFDashboardPlot?: { formatNumber(v: number): string } } = {};
new Function("globalThis", readFileSync(join(ROOT, "media", "dashboard-plot.js"), "utf8"))(plotScript);
const shown = (v: number): string => plotScript.RLEFDashboardPlot!.formatNumber(v);

test("Open Training Dashboard follows a real rlef-train run's live stream, then shows the finished run from its folder", async () => {
  const s = await openSession({ fixture: "problem", trust: true });
  const outDir = join(s.workspace, "runs", "demo-run");
  mkdirSync(join(s.workspace, "runs"), { recursive: true });
  const trainer = startTrainer(outDir);
  const why = () => `\n--- trainer log (tail) ---\n${trainer.log().slice(-3000)}\n---`;
  try {
    const url = await trainer.streamUrl;
    // The trainer is held (SIGSTOP) while the dashboard is opened, so that on any machine the run is still at
    // its start when the panel connects: the connection waits in the listen queue and completes on SIGCONT.
    const pid = trainer.process.pid as number;
    process.kill(pid, "SIGSTOP");
    await runCommand(s.page, "RLEF: Open Training Dashboard");
    await pick(s.page, "Connect to a running trainer");
    const input = s.page.locator(".quick-input-widget input");
    await waitFor(async () => (await input.inputValue()).startsWith("ws://127.0.0.1:"), 15_000, "the address box with the last address's prefix");
    await input.fill(url);
    await s.page.keyboard.press("Enter");
    process.kill(pid, "SIGCONT");

    // Live: the progress text climbs while the run trains, and the badge ends at "done" when the trainer says so.
    const live = await dashboardFrame(s.page, new RegExp(`stream ${url.replace(/[.]/g, "\\.")}`), /connected|done/, 120_000);
    await s.shot("dashboard-1-live");
    const seen = new Set<number>();
    await waitFor(
      async () => {
        const text = (await live.locator("#progress-text").textContent()) ?? "";
        const at = /^iteration (\d+) of (\d+)$/.exec(text);
        if (at) {
          assert.equal(Number(at[2]), ITERATIONS, `the planned total comes from the stream's hello${why()}`);
          seen.add(Number(at[1]));
        }
        return (await live.locator("#status").textContent()) === "done";
      },
      240_000,
      "the live dashboard to reach done",
    );
    await s.shot("dashboard-2-done");
    assert.equal(await trainer.exited, 0, `the trainer succeeded${why()}`);
    assert.ok(seen.has(ITERATIONS), `the last iteration was shown: ${[...seen].join(", ")}${why()}`);
    const climbing = [...seen].filter((i) => i < ITERATIONS);
    assert.ok(climbing.length >= 2, `iterations before the last were shown while the run trained: ${[...seen].join(", ")}${why()}`);

    // What it shows is what the run wrote.
    const metrics = readFileSync(join(outDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    const evaluations = readFileSync(join(outDir, "eval.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { iteration: number; valid: Record<string, number> });
    assert.equal(metrics.length, ITERATIONS);
    assert.deepEqual(evaluations.map((e) => e.iteration), [0, 10, 20, 30, 40, 50, 60], "evaluated before the first iteration, every 10, and after the last");
    const last = metrics[metrics.length - 1];
    const solve = await legend(live, "Solve rate (training rollouts)");
    assert.deepEqual(solve, [`solve rate ${shown(last.solve_rate)}`, `first-turn solve rate ${shown(last.first_turn_solve_rate)}`]);
    const valid = evaluations[evaluations.length - 1].valid;
    const evalFigure = live.locator("figure.chart", { has: live.locator(".chart-title", { hasText: `Evaluation: valid (${valid.problems} problems)` }) });
    assert.equal(await evalFigure.count(), 1, "one evaluation chart, for the held-out split");
    const mt = (await legend(live, "Evaluation: valid"))[0];
    assert.equal(mt, `MT 1@3 ${shown(valid.mt_1at3)} [${shown(valid.mt_1at3_low)}, ${shown(valid.mt_1at3_high)}]`);
    assert.equal(await evalFigure.locator("circle.dot").count(), 3 * evaluations.length, "a dot per evaluation for MT, ST and random-feedback MT");
    assert.equal(await live.locator("#training figure.chart").count(), 11, "every training chart has data");

    // The same run from its folder, through the file dialog: complete, with the same numbers.
    await runCommand(s.page, "RLEF: Open Training Dashboard");
    await pick(s.page, "Open a run folder");
    // VS Code's own file dialog in the browser: a path box that starts at the workspace folder (the dialog's
    // defaultUri) and fills itself in once it has listed it; typed before that, the path would be overwritten.
    const path = s.page.locator(".quick-input-widget input");
    await waitFor(async () => (await path.inputValue().catch(() => "")) === `${s.workspace}/`, 30_000, "the file dialog to start at the workspace folder");
    await waitFor(
      async () => {
        await path.fill(outDir);
        await s.page.waitForTimeout(500);
        return (await path.inputValue()) === outDir;
      },
      30_000,
      `the file dialog to keep the typed path ${outDir}`,
    );
    await s.page.locator(".quick-input-widget .monaco-button", { hasText: "Show This Run" }).click();
    const folder = await dashboardFrame(s.page, new RegExp(`run folder ${outDir.replace(/[.]/g, "\\.")}`), /complete/, 60_000);
    await s.shot("dashboard-3-folder");
    assert.equal(await folder.locator("#progress-text").textContent(), `iteration ${ITERATIONS} of ${ITERATIONS}`);
    assert.deepEqual(await legend(folder, "Solve rate (training rollouts)"), solve);
    assert.equal((await legend(folder, "Evaluation: valid"))[0], mt);
    assert.equal(await s.page.locator('.tab[aria-label*="RLEF Training (demo-run)"]').count(), 1, "the folder's panel is titled with the run's name");
  } finally {
    try {
      if (trainer.process.pid && trainer.process.exitCode === null) process.kill(-trainer.process.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await s.close();
  }
});
