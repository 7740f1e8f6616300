// Wall time of one workspace-tests run (snapshot, sandboxed pytest, report parsed) against the bare
// baseline a user would otherwise pay: copy the project to a temporary folder and run the same pytest
// there with the same report flags, no sandbox. Interleaved rounds, medians, measured in the same run.
// Usage: node --import tsx bench/workspace-run.ts [rounds, default 5]
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox, resolveInterpreter } from "../server/env/sandbox/index";
import { runWorkspaceTests } from "../server/env/run/workspace";
import { DEFAULT_LIMITS, type WorkspaceTask } from "../server/env/types";

const PROJECT = join(__dirname, "..", "test", "fixtures", "workspaces", "pytest-calc");

function bareRun(python: string): void {
  const copy = mkdtempSync(join(tmpdir(), "rlef-bench-ws-"));
  try {
    cpSync(PROJECT, copy, { recursive: true });
    const report = join(copy, "report.xml");
    const run = spawnSync(python, ["-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit1", `--junitxml=${report}`], {
      cwd: copy,
      env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8", PYTHONDONTWRITEBYTECODE: "1" },
    });
    if (run.status !== 0 || !readFileSync(report, "utf8").includes("<testcase")) throw new Error(`bare pytest failed: ${run.stderr}`);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

async function timeMs(one: () => unknown): Promise<number> {
  const started = process.hrtime.bigint();
  await one();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a positive integer, got ${process.argv[2]}`);
  const python = await resolveInterpreter("python3");
  const sandbox = await createSandbox();
  const task: WorkspaceTask = {
    kind: "workspace",
    id: "bench",
    set: "workspace",
    language: "python",
    root: PROJECT,
    target: { file: "calc.py" },
    runner: "pytest",
    command: ["python3", "-m", "pytest"],
    limits: { ...DEFAULT_LIMITS, timeMs: 120_000 },
  };
  const code = readFileSync(join(PROJECT, "calc.py"), "utf8");
  const workspaceRun = async () => {
    const report = await runWorkspaceTests(task, code, { sandbox, which: "public" });
    if (!report.passed) throw new Error(`workspace run failed: ${JSON.stringify(report.results)}`);
  };
  try {
    bareRun(python); // warm the page cache and the interpreter probe for both paths
    await workspaceRun();
    const bare: number[] = [];
    const sandboxed: number[] = [];
    for (let round = 0; round < rounds; round++) {
      bare.push(await timeMs(() => bareRun(python)));
      sandboxed.push(await timeMs(workspaceRun));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`project: ${PROJECT} (5 pytest tests)`);
    console.log(`isolation: ${sandbox.isolation.mode}`);
    console.log(`bare copy + pytest:      ${median(bare).toFixed(0)} ms median  (${bare.map((x) => x.toFixed(0)).join(", ")})`);
    console.log(`runWorkspaceTests:       ${median(sandboxed).toFixed(0)} ms median  (${sandboxed.map((x) => x.toFixed(0)).join(", ")})`);
    console.log(`ratio workspace/bare: ${(median(sandboxed) / median(bare)).toFixed(2)}x`);
  } finally {
    await sandbox.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
