// Finds the real binary behind an interpreter name and the installation folder it needs at run time.
// pyenv's `python3` is a shell script (a shim) that reads ~/.pyenv; inside the sandbox neither the shim's
// shell logic nor $HOME exist, so the sandbox must start the real binary and mount only its prefix.
import { execFile } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access, realpath } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, delimiter, dirname, isAbsolute, join, sep } from "node:path";

const PROBE_TIMEOUT_MS = 10_000;

/** Absolute path of `name` found on the host's PATH, or null. */
export async function findOnPath(name: string, pathVariable = process.env.PATH ?? ""): Promise<string | null> {
  for (const dir of pathVariable.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  return null;
}

function askPythonForItsExecutable(binary: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      ["-c", "import sys; print(sys.executable)"],
      { timeout: PROBE_TIMEOUT_MS, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`cannot resolve interpreter ${binary}: ${error.message}${stderr ? `\n${stderr.trim()}` : ""}`));
          return;
        }
        const executable = stdout.trim();
        if (!isAbsolute(executable)) {
          reject(new Error(`cannot resolve interpreter ${binary}: it reported sys.executable=${JSON.stringify(executable)}`));
          return;
        }
        resolve(executable);
      },
    );
  });
}

function looksLikePython(name: string): boolean {
  return /^python(\d+(\.\d+)?)?$/.test(basename(name));
}

/**
 * Real path of the interpreter binary: `node` is this process's own binary; a Python name is asked for its
 * `sys.executable` (which sees through pyenv shims); anything else is looked up on PATH. Symlinks are followed.
 */
export async function resolveInterpreter(name: "python3" | "node" | string): Promise<string> {
  if (!name) throw new Error("resolveInterpreter: empty interpreter name");
  if (name === "node" || name === "nodejs") return realpath(process.execPath);
  let located: string;
  if (isAbsolute(name)) {
    located = name;
  } else if (name.includes("/")) {
    throw new Error(`resolveInterpreter: ${JSON.stringify(name)} must be a bare name or an absolute path`);
  } else {
    const onPath = await findOnPath(name);
    if (!onPath) throw new Error(`interpreter ${JSON.stringify(name)} was not found on PATH`);
    located = onPath;
  }
  if (looksLikePython(located)) located = await askPythonForItsExecutable(located);
  try {
    return await realpath(located);
  } catch (error) {
    throw new Error(`interpreter ${JSON.stringify(name)} resolved to ${located}, which does not exist: ${String(error)}`);
  }
}

/** Folders the system mount already provides; a binary inside needs no mount of its own. */
export const SYSTEM_PREFIXES = ["/usr", "/bin", "/sbin", "/lib", "/lib64"];

export function isUnder(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep);
}

/**
 * What to mount read-only so that `realBinary` runs: its installation prefix (the parent of its `bin/`), or
 * only the binary itself when the prefix would expose the home folder or the root wholesale.
 * Returns null when the system mount already covers it.
 */
export function installationMount(realBinary: string, home = homedir()): string | null {
  if (SYSTEM_PREFIXES.some((prefix) => isUnder(realBinary, prefix))) return null;
  const folder = dirname(realBinary);
  const prefix = basename(folder) === "bin" ? dirname(folder) : folder;
  const exposesTooMuch = prefix === "/" || isUnder(home, prefix);
  return exposesTooMuch ? realBinary : prefix;
}
