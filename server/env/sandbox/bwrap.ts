// bubblewrap command lines: a fresh mount, pid, network, ipc, uts, cgroup and user namespace; the system
// read-only; only the interpreter's own prefix from outside /usr; a private /tmp and working directory.
// Capabilities are dropped: as root, bwrap would otherwise leave the full set.
// Measured as root (CI): the sandbox uid maps back to host uid 0, and /proc/sys checks only the uid, so a
// fresh /proc let a program with no capabilities write /proc/sys/kernel/core_pattern (host root code
// execution). /proc/sys and the other host-wide /proc knobs are therefore bound read-only over the fresh
// /proc, and the root itself is remounted read-only so that only /work and /tmp can be written.
import { execFile } from "node:child_process";
import { lstatSync, readlinkSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** The working directory as the program sees it. */
export const SANDBOX_WORKDIR = "/work";
/** An unprivileged uid/gid inside the user namespace (mapped back to the caller's uid outside). */
export const SANDBOX_UID = 1000;

/** Top-level system folders that merged-/usr hosts make symlinks and older hosts keep as folders. */
const SYSTEM_ROOT_ENTRIES = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];
/** Host-wide knobs under /proc that must stay read-only even for a uid that maps to root. */
const READ_ONLY_PROC = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"];
/** Host /etc files a program may need that reveal nothing about the user. */
const HOST_ETC_FILES = ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives"];

export interface BwrapMount {
  host: string;
  sandbox: string;
}

export interface BwrapInvocation {
  workdir: string;
  /** Read-only mounts: the interpreter's prefix and the spec's extra folders. */
  readOnly: BwrapMount[];
  env: Record<string, string>;
  argv: string[];
  /** Folder holding the synthetic /etc files written by `writeSyntheticEtc`. */
  etcDir: string;
  /** File descriptor bwrap reports the child pid and exit code on. */
  statusFd: number;
}

function systemMounts(): string[] {
  const args = ["--ro-bind", "/usr", "/usr"];
  for (const entry of SYSTEM_ROOT_ENTRIES) {
    let info;
    try {
      info = lstatSync(entry);
    } catch {
      continue;
    }
    if (info.isSymbolicLink()) args.push("--symlink", readlinkSync(entry), entry);
    else if (info.isDirectory()) args.push("--ro-bind", entry, entry);
  }
  for (const file of HOST_ETC_FILES) args.push("--ro-bind-try", file, file);
  return args;
}

/** passwd/group/hosts naming only the sandbox user and localhost, instead of the host's. */
export async function writeSyntheticEtc(etcDir: string): Promise<void> {
  await mkdir(etcDir, { recursive: true });
  await writeFile(join(etcDir, "passwd"), `sandbox:x:${SANDBOX_UID}:${SANDBOX_UID}:sandbox:${SANDBOX_WORKDIR}:/bin/sh\n`);
  await writeFile(join(etcDir, "group"), `sandbox:x:${SANDBOX_UID}:\n`);
  await writeFile(join(etcDir, "hosts"), "127.0.0.1 localhost\n::1 localhost\n");
}

export function bwrapArgs(invocation: BwrapInvocation): string[] {
  const args = [
    "--unshare-all",
    "--unshare-user",
    "--uid",
    String(SANDBOX_UID),
    "--gid",
    String(SANDBOX_UID),
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--new-session",
    "--hostname",
    "sandbox",
    "--json-status-fd",
    String(invocation.statusFd),
    ...systemMounts(),
    "--ro-bind",
    join(invocation.etcDir, "passwd"),
    "/etc/passwd",
    "--ro-bind",
    join(invocation.etcDir, "group"),
    "/etc/group",
    "--ro-bind",
    join(invocation.etcDir, "hosts"),
    "/etc/hosts",
    "--proc",
    "/proc",
    ...READ_ONLY_PROC.flatMap((path) => ["--ro-bind-try", path, path]),
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
  ];
  // Mounts inside the working directory (a workspace copy's node_modules) go after it, or its bind would hide them.
  const insideWorkdir = (mount: BwrapMount) => mount.sandbox.startsWith(`${SANDBOX_WORKDIR}/`);
  for (const mount of invocation.readOnly.filter((m) => !insideWorkdir(m))) args.push("--ro-bind", mount.host, mount.sandbox);
  args.push("--bind", invocation.workdir, SANDBOX_WORKDIR);
  for (const mount of invocation.readOnly.filter(insideWorkdir)) args.push("--ro-bind", mount.host, mount.sandbox);
  // Last of the mount operations: everything outside /work and /tmp becomes read-only.
  args.push("--remount-ro", "/", "--chdir", SANDBOX_WORKDIR, "--clearenv");
  for (const [name, value] of Object.entries(invocation.env)) args.push("--setenv", name, value);
  args.push("--", ...invocation.argv);
  return args;
}

/** Runs a trivial program under exactly our flags; resolves to null when it works, else the reason. */
export function probeBwrap(bwrapPath: string, etcDir: string, workdir: string): Promise<string | null> {
  const args = bwrapArgs({ workdir, readOnly: [], env: {}, argv: ["/bin/sh", "-c", "exit 0"], etcDir, statusFd: 1 });
  // The status fd is pointed at stdout here and ignored; only the exit status matters for the probe.
  return new Promise((resolve) => {
    execFile(bwrapPath, args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (!error) resolve(null);
      else resolve(`bubblewrap does not run here: ${stderr.trim() || error.message}`);
    });
  });
}
