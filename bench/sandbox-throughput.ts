// Executions per second of a trivial Python program through the sandbox (a fresh sandbox per run, and the
// pre-started fork server per worker), against bare child_process.spawn of the same resolved interpreter
// binary, all at concurrency = cores, measured in the same run.
// Usage: node --import tsx bench/sandbox-throughput.ts [runs per phase, default 200]
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { createSandbox, resolveInterpreter, type Sandbox } from "../server/env/sandbox/index";

const PROGRAM = "print(sum(range(100)))";
const EXPECTED = "4950\n";

function bareRun(python: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // detached: its own session, as the sandbox gives each run (bwrap --new-session); with CFS autogroup a
    // new session is also a new scheduling group, which on a loaded machine alone changes throughput.
    const child = spawn(python, ["-c", PROGRAM], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" }, detached: true });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (out += text));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 && out === EXPECTED ? resolve() : reject(new Error(`bare run failed: ${code} ${out}`))));
  });
}

/** Runs `total` calls of `one` with `concurrency` in flight; returns executions per second. */
async function throughput(total: number, concurrency: number, one: () => Promise<void>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        await one();
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return total / seconds;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 200);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs per phase must be a positive integer, got ${process.argv[2]}`);
  const cores = availableParallelism();
  const python = await resolveInterpreter("python3");
  const sandbox = await createSandbox({ workers: cores });
  const forking = await createSandbox({ workers: cores, forkServer: true });
  try {
    const through = (box: Sandbox) => async () => {
      const result = await box.exec({ argv: [python, "-c", PROGRAM], limits: { wallMs: 30_000 } });
      if (result.termination !== "exited" || result.stdout.toString() !== EXPECTED) {
        throw new Error(`sandbox run failed: ${result.termination} ${result.stderr.toString()}`);
      }
    };
    const sandboxRun = through(sandbox);
    const forkRun = through(forking);
    // Warm both paths (page cache, the interpreter probe) before measuring.
    await throughput(cores * 2, cores, () => bareRun(python));
    await throughput(cores * 2, cores, sandboxRun);
    await throughput(cores * 2, cores, forkRun);
    // Interleave the phases so that load from other processes on the machine hits both alike.
    const bare: number[] = [];
    const sandboxed: number[] = [];
    const forked: number[] = [];
    for (let round = 0; round < 3; round++) {
      bare.push(await throughput(Math.ceil(runs / 3), cores, () => bareRun(python)));
      sandboxed.push(await throughput(Math.ceil(runs / 3), cores, sandboxRun));
      forked.push(await throughput(Math.ceil(runs / 3), cores, forkRun));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const bareRate = median(bare);
    const sandboxRate = median(sandboxed);
    const forkRate = median(forked);
    console.log(`interpreter: ${python}`);
    console.log(`isolation: ${sandbox.isolation.mode} [${sandbox.isolation.enforced.join(", ")}]`);
    console.log(`concurrency: ${cores}, runs per phase: ${runs} (3 interleaved rounds, median)`);
    console.log(`bare spawn:  ${bareRate.toFixed(1)} exec/s  (rounds: ${bare.map((x) => x.toFixed(1)).join(", ")})`);
    console.log(`sandbox:     ${sandboxRate.toFixed(1)} exec/s  (rounds: ${sandboxed.map((x) => x.toFixed(1)).join(", ")})`);
    console.log(`fork server: ${forkRate.toFixed(1)} exec/s  (rounds: ${forked.map((x) => x.toFixed(1)).join(", ")})`);
    console.log(`ratio sandbox/bare: ${(sandboxRate / bareRate).toFixed(2)}x`);
    console.log(`ratio fork-server/bare: ${(forkRate / bareRate).toFixed(2)}x`);
  } finally {
    await sandbox.dispose();
    await forking.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
