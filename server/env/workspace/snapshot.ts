// A snapshot of what a workspace test run needs: the project's own files, read into memory to be
// written into the sandbox's fresh working directory, and the large dependency folders (node_modules,
// virtual environments, .git), which are mounted read-only at the same relative place instead of
// copied. The project itself is only ever read.
import { lstat, readdir, readFile, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, sep } from "node:path";

/** Folders that hold dependencies or history: mounted read-only, never copied (any folder with a pyvenv.cfg too). */
export const READ_ONLY_DIR_NAMES = new Set(["node_modules", ".git", ".venv", "venv"]);
/** Caches a run must neither read stale nor produce: left out of the copy entirely. */
export const SKIPPED_DIR_NAMES = new Set(["__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"]);

export interface SnapshotLimits {
  /** Most files copied (default 20,000). */
  maxFiles: number;
  /** Most bytes copied in all (default 128 MiB). */
  maxBytes: number;
}

export const DEFAULT_SNAPSHOT_LIMITS: SnapshotLimits = { maxFiles: 20_000, maxBytes: 128 * 1024 * 1024 };

export interface ReadOnlyDir {
  /** Where it sits in the project, relative, `/`-separated. */
  path: string;
  /** Real absolute path on the host (symlinks resolved), what gets mounted. */
  host: string;
}

export interface ProjectSnapshot {
  /** Real absolute path of the project root. */
  root: string;
  /** The project's own files by relative `/`-separated path. */
  files: Map<string, Buffer>;
  readOnlyDirs: ReadOnlyDir[];
  /** Entries left out, with why (caches, special files, links leaving the project). */
  skipped: string[];
  totalBytes: number;
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotError";
  }
}

async function isVirtualEnvironment(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, "pyvenv.cfg"))).isFile();
  } catch {
    return false;
  }
}

function isInside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder + sep);
}

/** Reads the project at `root`. `extraReadOnlyDirs` are relative folders to mount instead of copy. */
export async function snapshotProject(
  root: string,
  extraReadOnlyDirs: string[] = [],
  limits: SnapshotLimits = DEFAULT_SNAPSHOT_LIMITS,
): Promise<ProjectSnapshot> {
  if (!isAbsolute(root)) throw new SnapshotError(`the project root ${JSON.stringify(root)} must be an absolute path`);
  let realRoot: string;
  try {
    realRoot = await realpath(root);
    if (!(await stat(realRoot)).isDirectory()) throw new Error("not a folder");
  } catch (error) {
    throw new SnapshotError(`the project root ${root} cannot be read: ${(error as Error).message}`);
  }
  const extra = new Set(
    extraReadOnlyDirs.map((dir) => {
      const parts = String(dir).replace(/\\/g, "/").split("/").filter((part) => part !== "" && part !== ".");
      if (String(dir).startsWith("/") || parts.length === 0 || parts.includes("..")) {
        throw new SnapshotError(`readOnlyDirs entry ${JSON.stringify(dir)} must be a folder inside the project, relative to its root`);
      }
      return parts.join("/");
    }),
  );
  const snapshot: ProjectSnapshot = { root: realRoot, files: new Map(), readOnlyDirs: [], skipped: [], totalBytes: 0 };

  const addFile = async (path: string, host: string): Promise<void> => {
    if (snapshot.files.size >= limits.maxFiles) {
      throw new SnapshotError(`the project has more than ${limits.maxFiles} files to copy; name large folders in readOnlyDirs`);
    }
    const content = await readFile(host);
    snapshot.totalBytes += content.length;
    if (snapshot.totalBytes > limits.maxBytes) {
      throw new SnapshotError(`the project's files exceed ${limits.maxBytes} bytes; name large folders in readOnlyDirs`);
    }
    snapshot.files.set(path, content);
  };

  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const host = join(dir, entry.name);
      const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
      let info = await lstat(host);
      let real = host;
      if (info.isSymbolicLink()) {
        try {
          real = await realpath(host);
          info = await stat(real);
        } catch {
          snapshot.skipped.push(`${path}: broken symbolic link`);
          continue;
        }
      }
      if (info.isDirectory()) {
        if (SKIPPED_DIR_NAMES.has(entry.name)) {
          snapshot.skipped.push(`${path}: cache folder`);
        } else if (READ_ONLY_DIR_NAMES.has(entry.name) || extra.has(path) || (await isVirtualEnvironment(real))) {
          snapshot.readOnlyDirs.push({ path, host: real });
        } else if (real !== host && isInside(real, realRoot)) {
          // A link to a folder inside the project: its contents are copied where they really live.
          snapshot.skipped.push(`${path}: link to a folder inside the project`);
        } else if (real !== host) {
          snapshot.skipped.push(`${path}: link to a folder outside the project`);
        } else {
          await walk(host, path);
        }
      } else if (info.isFile()) {
        if (real !== host && !isInside(real, realRoot)) snapshot.skipped.push(`${path}: link to a file outside the project`);
        else await addFile(path, real);
      } else {
        snapshot.skipped.push(`${path}: not a regular file or folder`);
      }
    }
  };
  await walk(realRoot, "");
  return snapshot;
}

