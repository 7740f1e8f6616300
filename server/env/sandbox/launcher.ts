// The first process of every run: a /bin/sh script that joins the run's cgroups and sets the rlimits on
// itself, then execs the sandbox (bwrap, or the program when unisolated).
//
// Why a shell and not node: Node cannot run code between fork and exec, and writing the child's pid into
// cgroup.procs from outside after spawn leaves a window in which a fork bomb runs unlimited. Here the
// process joins before it execs anything, so every process of the run descends from one already inside.
// The rlimits are shell builtins for the same reason (and it saves starting prlimit on every run).
import { execFile } from "node:child_process";

/** Where the launcher reports its own failures, and bwrap (which inherits it) its child's exit status. */
export const STATUS_FD = 3;

const SCRIPT = `
for f in "$1" "$2"; do
  if [ -n "$f" ]; then
    { echo $$ > "$f"; } 2>/dev/null || { echo "launcher-error: cannot join cgroup $f" >&${STATUS_FD}; exit 125; }
  fi
done
{ ulimit -S -t "$4" && ulimit -H -t "$5" && ulimit -f "$6" && ulimit -c 0; } 2>/dev/null ||
  { echo "launcher-error: cannot set rlimits (cpu $4/$5 s, file $6 blocks)" >&${STATUS_FD}; exit 125; }
if [ "$3" = close-status ]; then exec ${STATUS_FD}>&-; fi
shift 6
exec "$@"
`;

export interface LauncherOptions {
  /** cgroup.procs files to join (memory, pids); absent ones are skipped. */
  cgroupProcsFiles: string[];
  /** bwrap reports on the status fd; unisolated programs must not inherit it. */
  keepStatusFd: boolean;
  cpuMs: number;
  fileBytes: number;
  /** Bytes per `ulimit -f` block for this /bin/sh (POSIX says 512; bash outside POSIX mode uses 1024). */
  fileBlockBytes: number;
  command: string[];
}

/** argv for spawning /bin/sh as the launcher. */
export function launcherArgv(options: LauncherOptions): string[] {
  const cpuSeconds = Math.max(1, Math.ceil(options.cpuMs / 1000));
  const fileBlocks = Math.max(1, Math.floor(options.fileBytes / options.fileBlockBytes));
  return [
    "-c",
    SCRIPT,
    "sh",
    options.cgroupProcsFiles[0] ?? "",
    options.cgroupProcsFiles[1] ?? "",
    options.keepStatusFd ? "keep-status" : "close-status",
    // soft CPU limit sends SIGXCPU (reported as a timeout); the hard one, a second later, SIGKILL
    String(cpuSeconds),
    String(cpuSeconds + 1),
    String(fileBlocks),
    ...options.command,
  ];
}

/** Measures the unit of /bin/sh's `ulimit -f` by setting 1 block and reading the limit back from the kernel. */
export function probeFileBlockBytes(): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile("/bin/sh", ["-c", "ulimit -f 1 && exec cat /proc/self/limits"], { timeout: 10_000 }, (error, stdout) => {
      const match = /^Max file size\s+(\d+)\s/m.exec(stdout);
      if (error || !match) {
        reject(new Error(`sandbox: cannot measure /bin/sh's ulimit -f unit: ${error ? error.message : stdout.slice(0, 200)}`));
        return;
      }
      resolve(Number(match[1]));
    });
  });
}
