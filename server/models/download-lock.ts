// One download per model at a time: the editor and a terminal may both start one, and two
// writers appending to the same .part file would corrupt it. The lock is a file holding the
// owner's pid, created exclusively; a lock whose process is gone (killed) is taken over.
import { openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";

export function acquireDownloadLock(lockPath: string, what: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileSync(lockPath, "utf8").trim());
      if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) {
        throw new Error(`another download of ${what} is in progress (process ${owner}); wait for it, or delete ${lockPath} if that process is not a download`);
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`cannot take the download lock ${lockPath}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
