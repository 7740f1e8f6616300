import { test } from "node:test";
import assert from "node:assert/strict";
import { launcherArgv, probeFileBlockBytes } from "../../../server/env/sandbox/launcher";

test("the ulimit -f unit of /bin/sh is measured, not assumed", async () => {
  assert.ok([512, 1024].includes(await probeFileBlockBytes()));
});

test("limits are passed as whole seconds and blocks, never zero", () => {
  const argv = launcherArgv({
    cgroupProcsFiles: ["/m/cgroup.procs"],
    keepStatusFd: false,
    cpuMs: 1,
    fileBytes: 100,
    fileBlockBytes: 512,
    command: ["/bin/true"],
  });
  assert.deepEqual(argv.slice(3), ["/m/cgroup.procs", "", "close-status", "1", "2", "1", "/bin/true"]);
});
