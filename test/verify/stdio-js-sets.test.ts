// Runs every verification program of the stdin/stdout and JS/TS sets in the real sandbox: each reference or
// known answer must pass, each mutant must fail, and reformatted whitespace must get the verdict its
// checker allows. The documented upstream data errors (JS_DATASET_ERRORS) must fail exactly as documented, and
// the documented surviving CodeContests mutants (CODECONTESTS_SURVIVING_MUTANTS) must still survive, so neither
// list can go stale unnoticed.
// Slow (minutes): run on its own with `node scripts/run-tests.mjs test/verify`. RLEF_VERIFY_SETS=a,b limits it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createSandbox, type Sandbox } from "../../server/env/sandbox";
import { runTests } from "../../server/env/run";
import { CODECONTESTS_SURVIVING_MUTANTS, stdioSets } from "../../server/env/tasks/stdio-sets";
import { JS_DATASET_ERRORS, jsDatasetError, jsSets } from "../../server/env/tasks/js-sets";
import type { BenchmarkSet } from "../../server/env/tasks/set";
import type { Task } from "../../server/env/types";

const BENCHMARKS = join(__dirname, "..", "..", "..", "shared", "benchmarks");
/** Machine load must not turn a reference's pass into a timeout. */
const TIME_MULTIPLIER = 3;
const CONCURRENCY = 2;

const only = process.env.RLEF_VERIFY_SETS?.split(",").filter(Boolean);
const sets = [...stdioSets, ...jsSets].filter((s) => !only || only.includes(s.name));

let sandbox: Sandbox;
before(async () => {
  sandbox = await createSandbox();
});
after(async () => {
  await sandbox.dispose();
});

interface Mismatch {
  task: string;
  label: string;
  mustPass: boolean;
  detail: string;
}

async function verifyTask(set: BenchmarkSet, task: Task): Promise<Mismatch[]> {
  const mismatches: Mismatch[] = [];
  for (const program of set.verificationPrograms(task)) {
    const report = await runTests(task, program.code, { sandbox, which: "all", timeMultiplier: TIME_MULTIPLIER, stopAtFirstFailure: !program.mustPass });
    if (report.passed !== program.mustPass) {
      const failing = report.results.find((r) => r.outcome !== "passed");
      const detail = report.error ?? (failing ? `${failing.visibility} test ${failing.index + 1}: ${failing.outcome} ${(failing.trace ?? "").slice(0, 300)}` : "all tests passed");
      mismatches.push({ task: task.id, label: program.label, mustPass: program.mustPass, detail });
    }
  }
  return mismatches;
}

async function inParallel<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]);
      }
    }),
  );
  return results;
}

for (const set of sets) {
  test(`${set.name}: every reference or known answer passes and every mutant fails`, async () => {
    const started = Date.now();
    const { tasks, errors } = await set.load(BENCHMARKS);
    assert.deepEqual(errors, [], "no malformed records");
    assert.ok(tasks.length > 0);
    const documentedError = (id: string) => jsDatasetError(set.name, id) !== undefined;
    const documentedSurvivor = (id: string) => set.name === "codecontests" && id in CODECONTESTS_SURVIVING_MUTANTS;
    const withoutPrograms = tasks.filter((t) => set.verificationPrograms(t).filter((p) => !p.mustPass).length === 0 && !documentedError(t.id));
    assert.deepEqual(withoutPrograms.map((t) => t.id), [], "every task has a program that must fail");
    const mismatches = (await inParallel(tasks, CONCURRENCY, (t) => verifyTask(set, t))).flat();
    const isDocumented = (m: Mismatch) => documentedError(m.task) || (!m.mustPass && documentedSurvivor(m.task));
    const documented = mismatches.filter(isDocumented);
    const unexpected = mismatches.filter((m) => !isDocumented(m));
    for (const m of documented) console.log(`# documented: ${m.task} (${m.label}): ${m.detail.split("\n")[0]}`);
    const programs = tasks.reduce((n, t) => n + set.verificationPrograms(t).length, 0);
    console.log(`# ${set.name}: ${tasks.length} tasks, ${programs} programs, ${unexpected.length} unexpected verdicts, ${documented.length} documented, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(unexpected, [], "every verdict is the one its program must get");
    // Each documented error in this set really shows up: its reference (or known answer) fails.
    const expectedErrors = Object.keys(JS_DATASET_ERRORS[set.name] ?? {}).filter((id) => tasks.some((t) => t.id === id && set.verificationPrograms(t).some((p) => p.mustPass)));
    assert.deepEqual([...new Set(documented.filter((m) => m.mustPass).map((m) => m.task))].sort(), expectedErrors.sort(), "each documented dataset error fails as documented");
    const expectedSurvivors = set.name === "codecontests" ? Object.keys(CODECONTESTS_SURVIVING_MUTANTS).sort() : [];
    assert.deepEqual(documented.filter((m) => !m.mustPass && documentedSurvivor(m.task)).map((m) => m.task).sort(), expectedSurvivors, "each documented surviving mutant still survives");
  });
}
