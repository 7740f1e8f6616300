// Run by cgroup-v2-delegation.test.ts as an unprivileged user inside a cgroup delegated to it the way
// systemd delegates one (the folder and its cgroup.procs, cgroup.subtree_control and cgroup.threads chowned
// to the user). Waits for "go" on stdin (the parent moves it into that cgroup first), does one scenario,
// prints what it saw as one JSON line.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { parseUnifiedCgroupPath, probeMigration, RunCgroupV2, setUpCgroupV2, tearDownCgroupV2 } from "../../../server/env/sandbox/cgroup-v2";

const [mode, mountPoint, name, probeTarget] = process.argv.slice(2);

function ownCgroup(): string | null {
  return parseUnifiedCgroupPath(readFileSync("/proc/self/cgroup", "utf8"));
}

async function waitForGo(): Promise<void> {
  let input = "";
  for await (const chunk of process.stdin) {
    input += String(chunk);
    if (input.includes("go\n")) return;
  }
  throw new Error("stdin closed before go");
}

async function main(): Promise<unknown> {
  await waitForGo();
  const startedIn = ownCgroup();
  if (mode === "probe") return { startedIn, probe: await probeMigration(probeTarget) };
  // a child of ours already in the cgroup (born after the parent moved us): it must move along with us
  const helper = spawn("sleep", ["30"], { stdio: "ignore" });
  await new Promise((resolve) => helper.once("spawn", resolve));
  const found = await setUpCgroupV2(name, { mountPoint, systemdScope: mode === "crowded" });
  const helperMovedTo = parseUnifiedCgroupPath(readFileSync(`/proc/${helper.pid}/cgroup`, "utf8"));
  helper.kill("SIGKILL");
  if (!found.setup) return { startedIn, setup: null, missing: found.missing };
  const setup = found.setup;
  const movedTo = ownCgroup();
  const run = await RunCgroupV2.create(setup, "run-1", { memoryBytes: 128 * 1024 * 1024, maxProcesses: 16 });
  // a child that joins the leaf itself (as the launcher does), reports its cgroup, then keeps forking
  const child = spawn("/bin/sh", ["-c", `echo $$ > "$1" && cat /proc/self/cgroup && while :; do sleep 5 & done`, "sh", run.procsFiles[0]], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let childOut = "";
  child.stdout.setEncoding("utf8").on("data", (t: string) => (childOut += t));
  for (let i = 0; i < 300 && (await run.members()).length < 3; i++) await new Promise((r) => setTimeout(r, 10));
  const membersWhileRunning = (await run.members()).length;
  const killed = await run.killAll();
  const signal = await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.signalCode) : child.once("exit", (_c, s) => resolve(s))));
  await run.remove();
  const runRemoved = !existsSync(run.dir);
  await tearDownCgroupV2(setup);
  return {
    startedIn,
    movedTo,
    helperMovedTo,
    via: setup.via,
    group: setup.group,
    memory: setup.memory,
    pids: setup.pids,
    missing: found.missing,
    runChildCgroup: parseUnifiedCgroupPath(childOut),
    membersWhileRunning,
    killed,
    signal,
    runRemoved,
    groupRemoved: !existsSync(setup.group),
  };
}

main().then(
  (outcome) => {
    process.stdout.write(`${JSON.stringify(outcome)}\n`);
    process.exit(0);
  },
  (error: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: String(error instanceof Error ? error.stack : error) })}\n`);
    process.exit(1);
  },
);
