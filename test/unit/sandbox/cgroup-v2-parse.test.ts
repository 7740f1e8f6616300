// The pure parts of the cgroup v2 support: reading /proc/self/cgroup and /proc/self/mountinfo, and where
// a cgroup path lies under a mount. Samples are the kernel's formats (proc(5), cgroups(7)).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { cgroupDirIn, parseCgroup2Mounts, parseNameList, parseUnifiedCgroupPath } from "../../../server/env/sandbox/cgroup-v2";

test("the unified entry of /proc/self/cgroup is found on unified, hybrid and v1-only hosts", () => {
  assert.equal(parseUnifiedCgroupPath("0::/user.slice/user-1000.slice/user@1000.service/app.slice/code.scope\n"), "/user.slice/user-1000.slice/user@1000.service/app.slice/code.scope");
  const hybrid = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/1bc1\n0::/\n";
  assert.equal(parseUnifiedCgroupPath(hybrid), "/");
  assert.equal(parseUnifiedCgroupPath("12:pids:/docker/abc\n11:memory:/docker/abc\n"), null);
  assert.equal(parseUnifiedCgroupPath(""), null);
  // a cgroup outside our cgroup namespace is shown relative to it, with ".." steps
  assert.equal(parseUnifiedCgroupPath("0::/../../other.scope\n"), "/../../other.scope");
});

test("a malformed unified entry is an error, not a path", () => {
  assert.throws(() => parseUnifiedCgroupPath("0::user.slice\n"), /malformed unified entry/);
});

test("cgroup2 mounts are read from mountinfo, the canonical mount point first, escapes decoded", () => {
  const mountinfo = [
    "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw",
    "41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate",
    "42 27 0:38 / /tmp/cg\\040two rw,relatime - cgroup2 none rw",
    "30 24 0:26 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory",
    "50 22 0:38 /user.slice /mnt/sub rw,relatime master:4 propagate_from:1 - cgroup2 none rw",
    "",
  ].join("\n");
  assert.deepEqual(parseCgroup2Mounts(mountinfo), [
    { root: "/", mountPoint: "/sys/fs/cgroup/unified" },
    { root: "/", mountPoint: "/tmp/cg two" },
    { root: "/user.slice", mountPoint: "/mnt/sub" },
  ]);
  const unified = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
  assert.deepEqual(parseCgroup2Mounts("42 27 0:38 / /tmp/x rw - cgroup2 none rw\n" + unified)[0], { root: "/", mountPoint: "/sys/fs/cgroup" });
  assert.deepEqual(parseCgroup2Mounts("22 1 259:1 / / rw - ext4 /dev/root rw\n"), []);
});

test("a malformed mountinfo line is reported with its line number", () => {
  assert.throws(() => parseCgroup2Mounts("22 1 259:1 / / rw - ext4 /dev/root rw\ngarbage without separator\n"), /mountinfo line 2/);
  assert.throws(() => parseCgroup2Mounts("41 31 0:38 / /sys/fs/cgroup rw -\n"), /mountinfo line 1/);
});

test("this machine's own mountinfo parses (every line, not only cgroup2 ones)", () => {
  const mounts = parseCgroup2Mounts(readFileSync("/proc/self/mountinfo", "utf8"));
  for (const mount of mounts) assert.ok(mount.mountPoint.startsWith("/") && mount.root.startsWith("/"), JSON.stringify(mount));
});

test("a cgroup path maps to a folder only when the mount shows it", () => {
  const whole = { root: "/", mountPoint: "/sys/fs/cgroup" };
  assert.equal(cgroupDirIn(whole, "/"), "/sys/fs/cgroup");
  assert.equal(cgroupDirIn(whole, "/user.slice/app.scope"), "/sys/fs/cgroup/user.slice/app.scope");
  assert.equal(cgroupDirIn(whole, "/../../other.scope"), null);
  const sub = { root: "/user.slice", mountPoint: "/mnt/sub" };
  assert.equal(cgroupDirIn(sub, "/user.slice/app.scope"), "/mnt/sub/app.scope");
  assert.equal(cgroupDirIn(sub, "/user.slice"), "/mnt/sub");
  assert.equal(cgroupDirIn(sub, "/user.slicex/app.scope"), null);
  assert.equal(cgroupDirIn(sub, "/system.slice"), null);
});

test("controller lists are split on any whitespace", () => {
  assert.deepEqual(parseNameList("cpuset cpu io memory hugetlb pids rdma misc\n"), ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]);
  assert.deepEqual(parseNameList("\n"), []);
});
