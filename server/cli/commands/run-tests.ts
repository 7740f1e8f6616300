// `rlef run-tests <set | file> <task-id> <solution | ->`: runs one candidate program against one task's tests
// in the sandbox and prints each test's outcome (or the RunReport as JSON).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { runTests } from "../../env/run";
import { createSandbox } from "../../env/sandbox";
import { findSet } from "../../env/tasks/registry";
import { loadPythonFunctionFile, PYTHON_FUNCTION_FORMATS, type PythonFunctionFormat } from "../../env/tasks/python-sets";
import type { RunReport } from "../../env/types";
import { resolveBenchmarksRoot } from "../../env/verify/benchmarks-root";
import { parseCommandArgs } from "../parse-args";

const USAGE = `usage: rlef run-tests <set | file.jsonl[.gz]> <task-id> <solution-file | -> [options]

options:
  --which public|all     which tests to run (default all)
  --json                 print the RunReport as JSON
  --format F             record format of a file (${PYTHON_FUNCTION_FORMATS.join(", ")})
  --time-multiplier X    multiply every time limit (default 1)
  --benchmarks DIR       benchmarks root (default $RLEF_BENCHMARKS, else ../shared/benchmarks)
  --allow-unisolated     run without bubblewrap if it is unavailable (explicit consent)
`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function runTestsCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    "run-tests",
    argv,
    {
      which: { type: "string" },
      json: { type: "boolean" },
      format: { type: "string" },
      "time-multiplier": { type: "string" },
      benchmarks: { type: "string" },
      "allow-unisolated": { type: "boolean" },
    },
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 3) {
    process.stderr.write(`rlef run-tests: expected <set | file> <task-id> <solution-file | ->\n\n${USAGE}`);
    return 2;
  }
  const which = values.which ?? "all";
  if (which !== "public" && which !== "all") {
    process.stderr.write(`rlef run-tests: --which must be public or all\n`);
    return 2;
  }
  const multiplier = values["time-multiplier"] === undefined ? 1 : Number(values["time-multiplier"]);
  if (!Number.isFinite(multiplier) || multiplier <= 0) {
    process.stderr.write(`rlef run-tests: --time-multiplier must be a positive number\n`);
    return 2;
  }
  if (values.format !== undefined && !PYTHON_FUNCTION_FORMATS.includes(values.format as PythonFunctionFormat)) {
    process.stderr.write(`rlef run-tests: --format must be one of ${PYTHON_FUNCTION_FORMATS.join(", ")}\n`);
    return 2;
  }
  const [target, taskId, solution] = positionals;
  const set = findSet(target);
  const root = resolveBenchmarksRoot(values.benchmarks);
  let loaded;
  if (set) loaded = await set.load(root);
  else if (existsSync(target)) {
    try {
      loaded = await loadPythonFunctionFile(target, values.format as PythonFunctionFormat | undefined, root);
    } catch (e) {
      process.stderr.write(`rlef run-tests: ${(e as Error).message}\n`);
      return 2;
    }
  } else {
    process.stderr.write(`rlef run-tests: '${target}' is neither a built-in set nor an existing file\n`);
    return 2;
  }
  const task = loaded.tasks.find((t) => t.id === taskId);
  if (!task) {
    process.stderr.write(`rlef run-tests: no task '${taskId}' in ${target}\n`);
    return 2;
  }
  const code = solution === "-" ? await readStdin() : await readFile(solution, "utf8");
  const sandbox = await createSandbox({ allowUnisolated: values["allow-unisolated"] === true });
  let report: RunReport;
  try {
    report = await runTests(task, code, { sandbox, which, timeMultiplier: multiplier });
  } finally {
    await sandbox.dispose();
  }
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.passed ? 0 : 1;
}

function formatReport(report: RunReport): string {
  const lines = [`${report.taskId}: ${report.passed ? "passed" : "failed"} (isolation ${report.isolation.mode})`];
  if (report.error) lines.push(`error: ${report.error}`);
  for (const r of report.results) {
    lines.push(`  ${r.visibility} #${r.index} ${r.outcome} (${r.durationMs} ms)`);
    if (r.outcome === "passed") continue;
    lines.push(`    input: ${r.input.trim()}`);
    if (r.expected !== undefined) lines.push(`    expected: ${r.expected}`);
    if (r.actual !== undefined) lines.push(`    actual: ${r.actual}`);
    if (r.trace) lines.push(...r.trace.trimEnd().split("\n").map((l) => `    ${l}`));
  }
  return `${lines.join("\n")}\n`;
}
