// A private cgroup2 mount for the v2 tests (root only); the caller unmounts it in its after() hook.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Mounts a cgroup2 file system on a new temp folder and returns the folder; leaves nothing behind on failure. */
export function mountCgroup2(): string {
  const folder = mkdtempSync(join(tmpdir(), "rlef-cgroup2-"));
  try {
    execFileSync("mount", ["-t", "cgroup2", "none", folder]);
  } catch (error) {
    rmdirSync(folder);
    throw error;
  }
  return folder;
}

/** Removes a cgroup directory tree bottom-up, retrying while the kernel still reaps a last member (EBUSY). */
export async function removeCgroupTree(dir: string): Promise<void> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) await removeCgroupTree(join(dir, entry.name));
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
