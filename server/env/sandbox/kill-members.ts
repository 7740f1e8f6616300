// Killing every process of a run's cgroup, shared by the v1 and v2 hierarchies.

/** SIGKILLs each pid; one that is already gone is fine. */
export function sigkillEach(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Calls `kill` on the current members until none is left; false when some survived `deadlineMs`. Right after
 * a normal exit the namespace's last tasks are still being reaped, so it polls fast at first.
 */
export async function killUntilEmpty(
  members: () => Promise<number[]>,
  kill: (pids: number[]) => void,
  deadlineMs: number,
): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
    const pids = await members();
    if (pids.length === 0) return true;
    kill(pids);
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
