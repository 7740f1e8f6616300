// createSandbox on a cgroup v2 host, seen for real: a private mount namespace (unshare) whose
// /sys/fs/cgroup is a cgroup2 mount, so the v1 hierarchies are out of sight and the sandbox takes the v2
// path. What it then enforces depends on the controllers this kernel's v2 hierarchy has; on the CI machine
// (v1 binds memory and pids) it has neither, and every result must say so and why.
// The runs are unisolated (consented) here so that /proc/self/cgroup shows where a run really sat; bwrap
// would show its own cgroup namespace's "/".
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { IsolationReport } from "../../../server/env/types";
import { mountCgroup2, removeCgroupTree } from "./cgroup2-mount";

const ROOT = resolve(__dirname, "..", "..", "..");
const skip = process.platform !== "linux" || process.getuid?.() !== 0 ? "needs Linux and root for a mount namespace" : false;

/** A cgroup2 mount of our own on the host side, to make the containers' cgroups in. */
let hostMount = "";

before(() => {
  if (skip) return;
  const folder = mountCgroup2();
  hostMount = folder;
});

after(async () => {
  if (!hostMount) return;
  const removeTree = removeCgroupTree;
  for (const name of readdirSync(hostMount)) if (name.startsWith(`rlef-container-test-${process.pid}-`)) await removeTree(join(hostMount, name));
  execFileSync("umount", [hostMount]);
  rmdirSync(hostMount);
});

const SCRIPT = `
const { existsSync, readdirSync, readFileSync } = require("node:fs");
const { createSandbox } = require(${JSON.stringify(resolve(ROOT, "server/env/sandbox/index"))});
(async () => {
  const controllers = readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").split(/\\s+/).filter(Boolean);
  const trueRoot = !existsSync("/sys/fs/cgroup/cgroup.type");
  const ownCgroup = readFileSync("/proc/self/cgroup", "utf8").match(/^0::(.*)$/m)[1];
  const sandbox = await createSandbox({ mode: "unisolated", allowUnisolated: true, workers: 1 });
  const result = await sandbox.exec({ argv: ["/bin/cat", "/proc/self/cgroup"], limits: { wallMs: 10000 } });
  await sandbox.dispose();
  const leftovers = readdirSync("/sys/fs/cgroup").filter((n) => n.startsWith("rlef-sandbox-" + process.pid + "-"));
  process.stdout.write(JSON.stringify({ controllers, trueRoot, ownCgroup, isolation: sandbox.isolation, result: { termination: result.termination, stdout: result.stdout.toString(), isolation: result.isolation }, leftovers }) + "\\n");
})().catch((error) => { process.stdout.write(JSON.stringify({ error: String(error && error.stack) }) + "\\n"); process.exit(1); });
`;

interface ChildReport {
  controllers: string[];
  /** /sys/fs/cgroup is the hierarchy's root, not a cgroup namespace's top (a container's) */
  trueRoot: boolean;
  ownCgroup: string;
  isolation: IsolationReport;
  result: { termination: string; stdout: string; isolation: IsolationReport };
  leftovers: string[];
  error?: string;
}

test("on a cgroup v2 host the sandbox uses what is delegated and states precisely what is not enforced", { skip }, () => {
  // The mount namespace ends with the process: nothing is mounted on the host. A unified host has cgroup2
  // at /sys/fs/cgroup already.
  const stdout = execFileSync(
    "unshare",
    ["--mount", "--propagation", "private", "/bin/sh", "-c", '[ -e /sys/fs/cgroup/cgroup.controllers ] || mount -t cgroup2 none /sys/fs/cgroup || exit 97; exec "$@"', "sh", process.execPath, "--import", "tsx", "-e", SCRIPT],
    { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
  );
  const report = JSON.parse(stdout.trim().split("\n").pop() ?? "") as ChildReport;
  assert.equal(report.error, undefined, report.error);
  assert.equal(report.result.termination, "exited");
  assert.deepEqual(report.result.isolation, report.isolation, "every result carries the sandbox's report");
  assert.deepEqual(report.leftovers, [], "dispose removed the sandbox's cgroups");
  assert.ok(report.isolation.enforced.includes("rlimits"));
  const expectations = [
    ["memory", "memory-cgroup", "resident memory is not limited"],
    ["pids", "pids-cgroup", "the number of processes is not limited"],
  ] as const;
  for (const [controller, protection, consequence] of expectations) {
    const missing = report.isolation.missing.find((m) => m.startsWith(`${protection}: `));
    const detail =
      controller === "memory"
        ? " (rlimits here: CPU time, file size, no core dumps; no RLIMIT_AS, which interpreters' address-space reservations exceed)"
        : " (no RLIMIT_NPROC: it counts every process of the user, and does not bind root)";
    if (!report.trueRoot) {
      // a container's cgroup namespace: usable only when we are alone in it; either way the report is explicit
      assert.ok(report.isolation.enforced.includes(protection) !== (missing !== undefined), JSON.stringify(report.isolation));
      if (missing) assert.ok(missing.startsWith(`${protection}: cgroup v2`) && missing.endsWith(`; ${consequence}${detail}`), missing);
    } else if (report.controllers.includes(controller)) {
      // root on a unified host: the hierarchy root hands the controller down, the run sits in its own leaf
      assert.ok(report.isolation.enforced.includes(protection), JSON.stringify(report.isolation));
      assert.equal(missing, undefined);
      assert.match(report.result.stdout, /^0::\/rlef-sandbox-\d+-[0-9a-f]+\/run-1$/m);
    } else {
      assert.ok(!report.isolation.enforced.includes(protection));
      assert.equal(
        missing,
        `${protection}: cgroup v2 via hierarchy root /sys/fs/cgroup (root user): not available in /sys/fs/cgroup (its cgroup.controllers: "${report.controllers.join(" ")}"); ${consequence}${detail}`,
      );
    }
  }
  if (report.trueRoot && !report.controllers.includes("memory") && !report.controllers.includes("pids")) {
    // a subtree with neither controller is given back: the run stayed in our own cgroup
    assert.equal(report.result.stdout.match(/^0::(.*)$/m)?.[1], report.ownCgroup);
  }
});

/**
 * Like a container started with its own cgroup namespace (Docker's default on cgroup v2): the process is
 * put in cgroup `container`, then unshares its cgroup and mount namespaces and mounts cgroup2, so that
 * /sys/fs/cgroup shows `container` as its top.
 */
function runInContainer(container: string): ChildReport {
  const stdout = execFileSync(
    "/bin/sh",
    [
      "-c",
      'echo $$ > "$1" && shift && exec unshare --cgroup --mount --propagation private /bin/sh -c \'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"\' sh "$@"',
      "sh",
      join(container, "cgroup.procs"),
      process.execPath,
      "--import",
      "tsx",
      "-e",
      SCRIPT,
    ],
    { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
  );
  const report = JSON.parse(stdout.trim().split("\n").pop() ?? "") as ChildReport;
  assert.equal(report.error, undefined, report.error);
  return report;
}

test("alone in a container's cgroup namespace, the process moves itself to a leaf and uses its own cgroup", { skip }, () => {
  const container = join(hostMount, `rlef-container-test-${process.pid}-alone`);
  mkdirSync(container);
  const report = runInContainer(container);
  assert.equal(report.trueRoot, false);
  assert.equal(report.ownCgroup, "/");
  assert.deepEqual(report.leftovers, []);
  assert.equal(report.result.termination, "exited");
  const leaves = readdirSync(container, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  assert.equal(leaves.length, 1, "only our own leaf stays (it holds us until we exit)");
  assert.match(leaves[0], /^rlef-node-\d+$/);
  for (const protection of ["memory-cgroup", "pids-cgroup"]) {
    const controller = protection.slice(0, protection.indexOf("-"));
    if (report.controllers.includes(controller)) {
      assert.ok(report.isolation.enforced.includes(protection), JSON.stringify(report.isolation));
      continue;
    }
    const missing = report.isolation.missing.find((m) => m.startsWith(`${protection}: `)) ?? "";
    assert.ok(
      missing.startsWith(`${protection}: cgroup v2 via own cgroup /sys/fs/cgroup (this process moved to ${leaves[0]}): not available in /sys/fs/cgroup (its cgroup.controllers: "${report.controllers.join(" ")}"); `),
      missing,
    );
  }
  if (!report.controllers.includes("memory") && !report.controllers.includes("pids")) {
    // no limit to gain, so no run leaf: the run stayed in our (new) leaf
    assert.equal(report.result.stdout.match(/^0::(.*)$/m)?.[1], `/${leaves[0]}`);
  }
});

test("in a container's cgroup namespace shared with other processes, nothing is taken over and the report says why", { skip }, async () => {
  const container = join(hostMount, `rlef-container-test-${process.pid}-shared`);
  mkdirSync(container);
  const neighbour = spawn("sleep", ["60"], { stdio: "ignore" });
  try {
    await new Promise((r) => neighbour.once("spawn", r));
    writeFileSync(join(container, "cgroup.procs"), String(neighbour.pid));
    const report = runInContainer(container);
    assert.equal(report.trueRoot, false);
    assert.deepEqual(readdirSync(container, { withFileTypes: true }).filter((e) => e.isDirectory()), [], "no folder made in a shared cgroup");
    for (const protection of ["memory-cgroup", "pids-cgroup"]) {
      assert.ok(!report.isolation.enforced.includes(protection));
      const missing = report.isolation.missing.find((m) => m.startsWith(`${protection}: `)) ?? "";
      assert.ok(missing.startsWith(`${protection}: cgroup v2: no delegated subtree: /sys/fs/cgroup is a cgroup namespace's top, not the hierarchy root; `), missing);
      assert.match(missing, new RegExp(`own cgroup /sys/fs/cgroup also holds 1 process\\(es\\) that are not ours \\(e\\.g\\. pid ${neighbour.pid}\\)`));
      assert.match(missing, /systemd scope: (systemd-run is not installed|`systemd-run --scope .*` failed \(exit \d+\): \S)/);
    }
    assert.equal(report.result.stdout.match(/^0::(.*)$/m)?.[1], "/", "the run stayed in our cgroup");
  } finally {
    neighbour.kill("SIGKILL");
  }
});
