// Turns a spec's argv[0] and extra mounts into what the sandbox starts and mounts, and builds the scrubbed
// environment. Only these host paths become visible: the interpreter's prefix and the mounts named here.
import { existsSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { dirname, isAbsolute, normalize } from "node:path";
import type { ReadOnlyMount } from "./types";
import { installationMount, isUnder, resolveInterpreter, SYSTEM_PREFIXES } from "./interpreter";

export interface ResolvedProgram {
  /** Path to exec (inside the sandbox, which mounts host paths at the same place). */
  execPath: string;
  /** Host folder or file to mount read-only so that it runs, when outside the system mount. */
  mount: string | null;
  /** The program's own bin folder, put first on PATH so that it can start itself again (`python3 -m ...`). */
  binDir: string | null;
}

/** Resolves bare names once per sandbox: probing Python costs a process start. */
export class ProgramResolver {
  private readonly cache = new Map<string, Promise<string>>();

  async resolve(argv0: string, readOnly: ReadOnlyMount[]): Promise<ResolvedProgram> {
    if (typeof argv0 !== "string" || argv0.length === 0) throw new Error("sandbox: argv[0] must be a non-empty string");
    if (!argv0.includes("/")) {
      let pending = this.cache.get(argv0);
      if (!pending) {
        pending = resolveInterpreter(argv0);
        this.cache.set(argv0, pending);
        pending.catch(() => this.cache.delete(argv0));
      }
      const real = await pending;
      return { execPath: real, mount: installationMount(real), binDir: binFolder(real) };
    }
    if (!isAbsolute(argv0)) {
      // A program inside the working directory (`./a.out`): it is already there; nothing to mount.
      return { execPath: argv0, mount: null, binDir: null };
    }
    let real: string;
    try {
      real = await realpath(argv0);
    } catch {
      throw new Error(`sandbox: program ${argv0} does not exist on this machine`);
    }
    // A venv's bin/python must keep its own path (Python finds pyvenv.cfg from it) when the caller mounts
    // the venv; otherwise start the real binary so that no shim or unmounted symlink is in the way.
    const keepsOwnPath = readOnly.some((m) => isUnder(argv0, m.sandbox)) || SYSTEM_PREFIXES.some((p) => isUnder(argv0, p));
    const execPath = keepsOwnPath ? argv0 : real;
    return { execPath, mount: installationMount(real), binDir: binFolder(execPath) };
  }
}

function binFolder(path: string): string | null {
  const folder = dirname(path);
  return SYSTEM_PREFIXES.some((p) => isUnder(folder, p)) ? null : folder;
}

const FORBIDDEN_MOUNT_TARGETS = ["/", "/proc", "/dev", "/tmp", "/etc", "/usr"];

/** Validates extra read-only mounts from a spec: absolute, normalised, existing, not over the sandbox's own. */
export function checkReadOnlyMounts(mounts: ReadOnlyMount[]): ReadOnlyMount[] {
  return mounts.map((mount, index) => {
    const what = `readOnly[${index}]`;
    for (const key of ["host", "sandbox"] as const) {
      const path = mount[key];
      if (typeof path !== "string" || !isAbsolute(path)) throw new Error(`sandbox: ${what}.${key} must be an absolute path`);
      if (path.includes("\0") || normalize(path) !== path.replace(/\/+$/, "") || path.split("/").includes("..")) {
        throw new Error(`sandbox: ${what}.${key} ${JSON.stringify(path)} is not a normalised path`);
      }
    }
    if (FORBIDDEN_MOUNT_TARGETS.includes(normalize(mount.sandbox))) {
      throw new Error(`sandbox: ${what} may not replace the sandbox's own ${mount.sandbox}`);
    }
    if (!existsSync(mount.host)) throw new Error(`sandbox: ${what}.host ${mount.host} does not exist`);
    return { host: normalize(mount.host), sandbox: normalize(mount.sandbox) };
  });
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The whole environment a program gets: nothing of ours leaks unless the spec names it. */
export function scrubbedEnv(options: {
  binDir: string | null;
  home: string;
  tmp: string;
  extra: Record<string, string> | undefined;
}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: [options.binDir, "/usr/local/bin", "/usr/bin", "/bin"].filter((p): p is string => p !== null).join(":"),
    HOME: options.home,
    TMPDIR: options.tmp,
    LANG: "C.UTF-8",
    USER: "sandbox",
    LOGNAME: "sandbox",
  };
  for (const [name, value] of Object.entries(options.extra ?? {})) {
    if (!ENV_NAME.test(name)) throw new Error(`sandbox: environment variable name ${JSON.stringify(name)} is not valid`);
    if (typeof value !== "string" || value.includes("\0")) {
      throw new Error(`sandbox: environment variable ${name} must be a string without NUL bytes`);
    }
    env[name] = value;
  }
  return env;
}
