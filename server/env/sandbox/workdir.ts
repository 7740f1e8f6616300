// The private writable folder a run gets as its working directory: created fresh, filled with the spec's
// files, read back for `collect`, then removed. Paths come from untrusted task data and are validated;
// files the program leaves behind are untrusted too (a symlink to /etc/shadow must not be "collected").
import { constants as fsConstants } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, open, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, normalize, sep } from "node:path";

/** Largest file read back by `collect`; a bigger one is reported missing rather than loaded. */
export const MAX_COLLECTED_FILE_BYTES = 64 * 1024 * 1024;

/** Checks a relative path from a spec and returns it normalised; throws a message naming the bad path. */
export function checkRelativePath(path: string, what: string): string {
  if (typeof path !== "string" || path.length === 0) throw new Error(`${what}: empty path`);
  if (path.includes("\0")) throw new Error(`${what}: path ${JSON.stringify(path)} contains a NUL byte`);
  if (path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path)) {
    throw new Error(`${what}: path ${JSON.stringify(path)} must be relative to the working directory`);
  }
  const normalised = normalize(path);
  if (normalised === "." || normalised === ".." || normalised.startsWith(`..${sep}`) || normalised.split(sep).includes("..")) {
    throw new Error(`${what}: path ${JSON.stringify(path)} leaves the working directory`);
  }
  return normalised;
}

export async function createWorkdir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rlef-run-"));
  // The sandboxed uid may differ from ours; the folder is private because nothing else mounts it.
  await chmod(dir, 0o777);
  return dir;
}

export async function writeSpecFiles(workdir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const relative = checkRelativePath(path, "files");
    const target = join(workdir, relative);
    await mkdir(dirname(target), { recursive: true, mode: 0o777 });
    await writeFile(target, content, { mode: 0o666 });
  }
}

/**
 * Reads each requested file back, refusing anything that is not a regular file reached without symlinks
 * (every component is lstat'ed, and the final open uses O_NOFOLLOW).
 */
export async function collectFiles(workdir: string, paths: string[]): Promise<Record<string, Buffer>> {
  const collected: Record<string, Buffer> = {};
  for (const path of paths) {
    const relative = checkRelativePath(path, "collect");
    const content = await readPlainFile(workdir, relative);
    if (content) collected[path] = content;
  }
  return collected;
}

async function readPlainFile(workdir: string, relative: string): Promise<Buffer | null> {
  const parts = relative.split(sep);
  let current = workdir;
  for (const [index, part] of parts.entries()) {
    current = join(current, part);
    let info;
    try {
      info = await lstat(current);
    } catch {
      return null;
    }
    const last = index === parts.length - 1;
    if (info.isSymbolicLink()) return null;
    if (!last && !info.isDirectory()) return null;
    if (last && !info.isFile()) return null;
  }
  let handle;
  try {
    handle = await open(current, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size > MAX_COLLECTED_FILE_BYTES) return null;
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Removes the folder even when the program made parts of it unreadable (chmod 000) to itself. */
export async function removeWorkdir(workdir: string): Promise<void> {
  try {
    await rm(workdir, { recursive: true, force: true });
    return;
  } catch {
    await makeWritable(workdir);
    await rm(workdir, { recursive: true, force: true });
  }
}

async function makeWritable(dir: string): Promise<void> {
  try {
    await chmod(dir, 0o700);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await makeWritable(join(dir, entry.name));
    }
  } catch {
    // best effort; the final rm reports what is left
  }
}
