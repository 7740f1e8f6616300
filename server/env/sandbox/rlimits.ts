// Per-process resource limits set with util-linux `prlimit`, which sets them on itself and then execs the
// sandbox, so every process of the run inherits them. CPU time is a second line behind the wall clock
// (it stops a busy program even while the host is too loaded for our timer to fire promptly).

/** Default cap on the size of any one file the program writes. */
export const DEFAULT_FILE_BYTES = 256 * 1024 * 1024;

export interface ProcessLimits {
  cpuMs: number;
  fileBytes: number;
}

export function prlimitArgs(prlimitPath: string, limits: ProcessLimits): string[] {
  const cpuSeconds = Math.max(1, Math.ceil(limits.cpuMs / 1000));
  return [
    prlimitPath,
    // soft limit sends SIGXCPU (reported as a timeout), the hard limit a second later SIGKILL
    `--cpu=${cpuSeconds}:${cpuSeconds + 1}`,
    `--fsize=${limits.fileBytes}`,
    "--core=0",
    "--",
  ];
}
