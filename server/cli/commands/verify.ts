// `rlef verify <set | file>`: checks that a benchmark's tests judge correctly: every reference solution
// passes, a deterministic mutant of it fails, and special-oracle alternatives pass.
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { createSandbox } from "../../env/sandbox";
import { findSet } from "../../env/tasks/registry";
import { loadPythonFunctionFile, PYTHON_FUNCTION_FORMATS, type PythonFunctionFormat } from "../../env/tasks/python-sets";
import type { LoadResult, VerificationProgram } from "../../env/tasks/set";
import type { Task } from "../../env/types";
import { pythonVerificationPrograms } from "../../env/verify/python-programs";
import { resolveBenchmarksRoot } from "../../env/verify/benchmarks-root";
import { loadExclusions } from "../../env/verify/exclusions";
import { summarise, verifyTasks, type TaskVerification } from "../../env/verify/run-verify";
import { parseCommandArgs } from "../parse-args";

const USAGE = `usage: rlef verify <set | file.jsonl[.gz]> [options]

Runs every verification program of each task: the reference must pass, a one-site mutant must fail.

options:
  --format F             record format of a file (${PYTHON_FUNCTION_FORMATS.join(", ")}); required when ambiguous
  --json                 print { "passed": N, "total": N, "failures": [...] } instead of the table
  --limit N              verify only the first N tasks
  --time-multiplier X    multiply every time limit (default 3) so machine load cannot flip a verdict
  --benchmarks DIR       benchmarks root (default $RLEF_BENCHMARKS, else ../shared/benchmarks)
  --exclusions FILE      dataset-error list (default verify-exclusions.json in the repository)
  --allow-unisolated     run without bubblewrap if it is unavailable (explicit consent)
`;

function positiveNumber(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
}

class UsageError extends Error {}

export async function verifyCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    "verify",
    argv,
    {
      format: { type: "string" },
      json: { type: "boolean" },
      limit: { type: "string" },
      "time-multiplier": { type: "string" },
      benchmarks: { type: "string" },
      exclusions: { type: "string" },
      "allow-unisolated": { type: "boolean" },
    },
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    process.stderr.write(`rlef verify: give exactly one set name or file\n\n${USAGE}`);
    return 2;
  }
  let limit: number | undefined;
  let multiplier: number;
  try {
    limit = values.limit === undefined ? undefined : positiveNumber(values.limit, "--limit", 0);
    if (limit !== undefined && !Number.isInteger(limit)) throw new UsageError("--limit must be a whole number");
    multiplier = positiveNumber(values["time-multiplier"], "--time-multiplier", 3);
    if (values.format !== undefined && !PYTHON_FUNCTION_FORMATS.includes(values.format as PythonFunctionFormat)) {
      throw new UsageError(`--format must be one of ${PYTHON_FUNCTION_FORMATS.join(", ")}`);
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`rlef verify: ${e.message}\n`);
    return 2;
  }

  const target = positionals[0];
  const root = resolveBenchmarksRoot(values.benchmarks);
  const set = findSet(target);
  let loaded: LoadResult;
  let programsFor: (task: Task) => VerificationProgram[];
  if (set) {
    loaded = await set.load(root);
    programsFor = (t) => set.verificationPrograms(t);
  } else if (existsSync(target)) {
    try {
      loaded = await loadPythonFunctionFile(target, values.format as PythonFunctionFormat | undefined, root);
    } catch (e) {
      process.stderr.write(`rlef verify: ${(e as Error).message}\n`);
      return 2;
    }
    programsFor = (t) => (t.kind === "function" ? pythonVerificationPrograms(t) : []);
  } else {
    process.stderr.write(`rlef verify: '${target}' is neither a built-in set nor an existing file\n`);
    return 2;
  }
  for (const e of loaded.errors) process.stderr.write(`${e.file}:${e.line}: ${e.message}\n`);
  const tasks = limit === undefined ? loaded.tasks : loaded.tasks.slice(0, limit);

  const exclusions = await loadExclusions(values.exclusions);
  // The fork server where bubblewrap + cgroups are active: 3-4x the runs per second (bench/RESULTS.md,
  // "Pipeline throughput"); the isolation line below names the per-run namespaces it gives up.
  const sandbox = await createSandbox({ allowUnisolated: values["allow-unisolated"] === true, forkServer: "auto" });
  const began = Date.now();
  let results: TaskVerification[];
  try {
    if (!values.json && (sandbox.isolation.mode !== "bwrap+cgroup" || sandbox.isolation.missing.length > 0)) {
      process.stderr.write(`rlef verify: isolation ${sandbox.isolation.mode}; missing: ${sandbox.isolation.missing.join("; ")}\n`);
    }
    results = await verifyTasks(tasks, programsFor, {
      sandbox,
      timeMultiplier: multiplier,
      concurrency: availableParallelism() * 2,
      exclusions,
      onTask: values.json ? undefined : (r) => process.stdout.write(formatTaskLine(r)),
    });
  } finally {
    await sandbox.dispose();
  }
  const summary = summarise(results);
  const wallMs = Date.now() - began;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...summary, recordErrors: loaded.errors, wallMs }, null, 2)}\n`);
  } else {
    process.stdout.write(formatSummary(target, summary, wallMs, loaded.errors.length));
  }
  return summary.passed === summary.total && loaded.errors.length === 0 ? 0 : 1;
}

function formatTaskLine(r: TaskVerification): string {
  const verdict = r.skipped ? "SKIP (no reference)" : r.ok ? "ok" : r.excludedBecause ? "EXCLUDED" : "FAIL";
  let line = `${r.taskId.padEnd(28)} ${verdict.padEnd(9)} ${String(r.durationMs).padStart(7)} ms\n`;
  for (const p of r.programs.filter((p) => p.passed !== p.mustPass)) {
    line += `    ${p.label}: ${p.mustPass ? "must pass but failed" : "must fail but passed"}${p.detail ? `: ${p.detail}` : ""}\n`;
  }
  if (r.excludedBecause) line += `    dataset error: ${r.excludedBecause}\n`;
  return line;
}

function formatSummary(target: string, s: ReturnType<typeof summarise>, wallMs: number, recordErrors: number): string {
  const rows = [
    ["set", target],
    ["passed", `${s.passed}/${s.total}`],
    ["excluded (dataset errors)", String(s.excluded)],
    ["skipped (no reference)", String(s.skipped)],
    ["record errors", String(recordErrors)],
    ["wall time", `${(wallMs / 1000).toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  return `\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`;
}
