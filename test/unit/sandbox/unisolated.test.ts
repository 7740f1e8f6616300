// Without bubblewrap, untrusted code runs only after explicit consent, and the results say so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createSandbox, UnisolatedConsentError } from "../../../server/env/sandbox/index";

async function withPathWithoutBwrap<T>(body: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = "/nonexistent-rlef-path";
  try {
    return await body();
  } finally {
    process.env.PATH = saved;
  }
}

function processesWithMarker(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(marker)) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

test("auto mode without bubblewrap refuses to run and names the consent flag", async () => {
  await withPathWithoutBwrap(async () => {
    await assert.rejects(createSandbox(), (error: Error) => {
      assert.ok(error instanceof UnisolatedConsentError);
      assert.match(error.message, /bubblewrap \(bwrap\) is not installed/);
      assert.match(error.message, /allowUnisolated: true/);
      return true;
    });
  });
});

test("bwrap mode without bubblewrap fails instead of falling back", async () => {
  await withPathWithoutBwrap(async () => {
    await assert.rejects(createSandbox({ mode: "bwrap", allowUnisolated: true }), /bubblewrap \(bwrap\) is not installed/);
  });
});

test("unisolated mode without consent is refused", async () => {
  await assert.rejects(createSandbox({ mode: "unisolated" }), UnisolatedConsentError);
  await assert.rejects(createSandbox({ mode: "unisolated", allowUnisolated: "yes" as never }), UnisolatedConsentError);
});

test("an unknown mode is refused", async () => {
  await assert.rejects(createSandbox({ mode: "docker" as never }), /unknown mode/);
});

test("auto mode without bubblewrap but with consent runs unisolated and labels results none", async () => {
  const sandbox = await withPathWithoutBwrap(() => createSandbox({ allowUnisolated: true, workers: 1 }));
  try {
    assert.equal(sandbox.isolation.mode, "none");
    assert.ok(sandbox.isolation.missing.some((m) => m.startsWith("namespaces:")));
    // node needs no PATH lookup: it is this process's own binary
    const result = await sandbox.exec({ argv: ["node", "-e", "console.log(process.env.HOME === process.cwd())"], limits: { wallMs: 10_000 } });
    assert.equal(result.stdout.toString(), "true\n", result.stderr.toString());
    assert.equal(result.isolation.mode, "none");
  } finally {
    await sandbox.dispose();
  }
});

test("unisolated runs get a scrubbed environment", async () => {
  process.env.RLEF_TEST_PARENT_SECRET = "s3cret";
  const sandbox = await createSandbox({ mode: "unisolated", allowUnisolated: true, workers: 1 });
  try {
    const result = await sandbox.exec({ argv: ["python3", "-c", "import os; print(os.environ.get('RLEF_TEST_PARENT_SECRET'))"], limits: { wallMs: 10_000 } });
    assert.equal(result.stdout.toString(), "None\n");
  } finally {
    delete process.env.RLEF_TEST_PARENT_SECRET;
    await sandbox.dispose();
  }
});

const LINGER = (marker: string) =>
  `import subprocess,sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '${marker}'])`;

test("an unisolated timeout kills the program's background children too", async () => {
  const sandbox = await createSandbox({ mode: "unisolated", allowUnisolated: true, workers: 1 });
  const marker = `rlef-orphan-${process.pid}-${Date.now()}`;
  try {
    const result = await sandbox.exec({ argv: ["python3", "-c", `${LINGER(marker)}\nimport time; time.sleep(300)`], limits: { wallMs: 1500 } });
    assert.equal(result.termination, "timeout");
    assert.deepEqual(processesWithMarker(marker), []);
  } finally {
    await sandbox.dispose();
  }
});

test("an unisolated program that exits leaves no background child behind", async () => {
  const sandbox = await createSandbox({ mode: "unisolated", allowUnisolated: true, workers: 1 });
  const marker = `rlef-orphan-exit-${process.pid}-${Date.now()}`;
  try {
    const result = await sandbox.exec({ argv: ["python3", "-c", `${LINGER(marker)}\nimport time; time.sleep(0.5)`], limits: { wallMs: 10_000 } });
    assert.equal(result.termination, "exited");
    assert.deepEqual(processesWithMarker(marker), []);
  } finally {
    await sandbox.dispose();
  }
});

test("a fork server without bubblewrap is refused, and the refused sandbox leaves no cgroup behind", async () => {
  const ours = () => readdirSync("/sys/fs/cgroup/pids").filter((name) => name.startsWith(`rlef-sandbox-${process.pid}-`));
  const before = ours();
  await assert.rejects(createSandbox({ mode: "unisolated", allowUnisolated: true, forkServer: true }), /forkServer needs bubblewrap/);
  assert.deepEqual(ours(), before);
});
