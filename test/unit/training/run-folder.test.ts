// Reading a training run's folder (metrics.jsonl, eval.jsonl, config.json) as the trainer leaves it, also
// mid-write or damaged, and following it as it grows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRunFolder } from "../../../server/training/run-folder";
import { followRunFolder, type RunSnapshot } from "../../../server/training/run-snapshot";

const line = (value: unknown) => JSON.stringify(value) + "\n";
const metrics = (iteration: number) => ({ iteration, solve_rate: 0.5, kl_per_turn: 0.01, explained_variance: null, lr: 1e-5 });
const evaluation = (iteration: number) => ({ iteration, valid: { problems: 2, draws: 1, mt_1at3: 0.5, mt_1at3_low: 0, mt_1at3_high: 1 }, seconds: 2 });

function runFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "rlef-run-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test("a run folder's metrics, evaluations and planned iterations", async (t) => {
  const dir = runFolder({
    "metrics.jsonl": line(metrics(1)) + line(metrics(2)),
    "eval.jsonl": line(evaluation(0)) + line(evaluation(2)),
    "config.json": JSON.stringify({ model: "tiny", iterations: 3 }, null, 2),
  });
  t.after(() => rmSync(dir, { recursive: true }));
  const run = await readRunFolder(dir);
  assert.deepEqual(run.metrics, [metrics(1), metrics(2)]);
  assert.deepEqual(run.evaluations[1], { iteration: 2, seconds: 2, splits: { valid: evaluation(2).valid } });
  assert.equal(run.iterations, 3);
});

test("a torn last line, as a killed trainer leaves it, is ignored", async (t) => {
  const dir = runFolder({
    "metrics.jsonl": line(metrics(1)) + line(metrics(2)) + line(metrics(3)).slice(0, 20),
    "eval.jsonl": line(evaluation(0)) + '{"iteration": 2, "val',
  });
  t.after(() => rmSync(dir, { recursive: true }));
  const run = await readRunFolder(dir);
  assert.deepEqual(
    run.metrics.map((m) => m.iteration),
    [1, 2],
  );
  assert.deepEqual(
    run.evaluations.map((e) => e.iteration),
    [0],
  );
  assert.equal(run.iterations, null, "no config.json");
});

test("a last line that is whole but lacks its newline still counts", async (t) => {
  const dir = runFolder({ "metrics.jsonl": line(metrics(1)) + JSON.stringify(metrics(2)) });
  t.after(() => rmSync(dir, { recursive: true }));
  assert.equal((await readRunFolder(dir)).metrics.length, 2);
});

test("a malformed line before the last is an error naming the file and the line", async (t) => {
  const dir = runFolder({ "metrics.jsonl": line(metrics(1)) + "{oops\n" + line(metrics(3)) });
  t.after(() => rmSync(dir, { recursive: true }));
  await assert.rejects(readRunFolder(dir), (err: Error) => {
    assert.equal(err.name, "RunFolderError");
    assert.match(err.message, new RegExp(`${join(dir, "metrics.jsonl").replace(/[.\\]/g, "\\$&")}, line 2: not valid JSON`));
    return true;
  });
});

test("a whole line of the wrong shape is an error naming the file, the line and the field", async (t) => {
  const dir = runFolder({ "eval.jsonl": line(evaluation(0)) + line({ iteration: 1, valid: { mt_1at3: "half" } }) });
  t.after(() => rmSync(dir, { recursive: true }));
  await assert.rejects(readRunFolder(dir), /eval\.jsonl, line 2: record\.valid\.mt_1at3 must be number,null/);
  const metricsDir = runFolder({ "metrics.jsonl": line({ solve_rate: 0.5 }) });
  t.after(() => rmSync(metricsDir, { recursive: true }));
  await assert.rejects(readRunFolder(metricsDir), /metrics\.jsonl, line 1: record must have required property 'iteration'/);
});

test("a folder that is not a run, or is not there, is an error that says so", async (t) => {
  const empty = runFolder({});
  t.after(() => rmSync(empty, { recursive: true }));
  await assert.rejects(readRunFolder(empty), /is not a training run's folder: it has none of metrics\.jsonl, eval\.jsonl, config\.json/);
  await assert.rejects(readRunFolder(join(empty, "missing")), /is not a folder/);
  const badConfig = runFolder({ "config.json": "{", "metrics.jsonl": "" });
  t.after(() => rmSync(badConfig, { recursive: true }));
  await assert.rejects(readRunFolder(badConfig), /config\.json: not valid JSON/);
});

test("a run that has only started (config.json, no metrics yet) reads as empty", async (t) => {
  const dir = runFolder({ "config.json": JSON.stringify({ iterations: 400 }) });
  t.after(() => rmSync(dir, { recursive: true }));
  assert.deepEqual(await readRunFolder(dir), { metrics: [], evaluations: [], iterations: 400 });
});

test("followRunFolder shows the files again as they grow, and keeps the last good data through a bad read", async (t) => {
  const dir = runFolder({ "config.json": JSON.stringify({ iterations: 3 }), "metrics.jsonl": line(metrics(1)) });
  t.after(() => rmSync(dir, { recursive: true }));
  const snapshots: RunSnapshot[] = [];
  const follower = followRunFolder(dir, (s) => snapshots.push(s), { intervalMs: 20 });
  t.after(() => follower.close());
  const waitFor = async (ok: (s: RunSnapshot) => boolean) => {
    const deadline = Date.now() + 5_000;
    while (!(snapshots.length && ok(snapshots.at(-1)!))) {
      assert.ok(Date.now() < deadline, `timed out; last snapshot: ${JSON.stringify(snapshots.at(-1))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return snapshots.at(-1)!;
  };
  const first = await waitFor((s) => s.metrics.length === 1);
  assert.equal(first.status, "watching");
  assert.equal(first.iterations, 3);
  assert.equal(first.outDir, dir);

  appendFileSync(join(dir, "metrics.jsonl"), line(metrics(2)));
  writeFileSync(join(dir, "eval.jsonl"), line(evaluation(2)));
  await waitFor((s) => s.metrics.length === 2 && s.evaluations.length === 1);

  appendFileSync(join(dir, "metrics.jsonl"), "garbage\n");
  const broken = await waitFor((s) => s.problem !== null);
  assert.match(broken.problem!, /metrics\.jsonl, line 3: not valid JSON/);
  assert.equal(broken.metrics.length, 2, "the last good data stays");

  writeFileSync(join(dir, "metrics.jsonl"), line(metrics(1)) + line(metrics(2)) + line(metrics(3)));
  const fixed = await waitFor((s) => s.problem === null);
  assert.equal(fixed.metrics.length, 3);
});

test("followRunFolder on a folder that disappears reports it", async (t) => {
  const parent = mkdtempSync(join(tmpdir(), "rlef-run-"));
  const dir = join(parent, "run");
  mkdirSync(dir);
  writeFileSync(join(dir, "metrics.jsonl"), line(metrics(1)));
  t.after(() => rmSync(parent, { recursive: true }));
  const snapshots: RunSnapshot[] = [];
  const follower = followRunFolder(dir, (s) => snapshots.push(s), { intervalMs: 20 });
  t.after(() => follower.close());
  while (!snapshots.length) await new Promise((r) => setTimeout(r, 10));
  rmSync(dir, { recursive: true });
  const deadline = Date.now() + 5_000;
  while (snapshots.at(-1)!.problem === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.match(snapshots.at(-1)!.problem ?? "", /is not a folder/);
  assert.equal(snapshots.at(-1)!.metrics.length, 1);
});
