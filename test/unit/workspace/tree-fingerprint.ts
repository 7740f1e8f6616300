// A fingerprint of a whole folder tree (names, types, bytes, modes, mtimes, link targets), to prove a
// run left the user's project exactly as it was.
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

export type TreeFingerprint = Record<string, string>;

export function fingerprintTree(root: string): TreeFingerprint {
  const entries: TreeFingerprint = {};
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = prefix === "" ? name : `${prefix}/${name}`;
      const info = lstatSync(path);
      const meta = `mode=${info.mode.toString(8)} mtime=${info.mtimeMs}`;
      if (info.isSymbolicLink()) {
        entries[rel] = `link -> ${readlinkSync(path)} ${meta}`;
      } else if (info.isDirectory()) {
        entries[rel] = `dir ${meta}`;
        walk(path, rel);
      } else {
        const digest = createHash("sha256").update(readFileSync(path)).digest("hex");
        entries[rel] = `file size=${info.size} sha256=${digest} ${meta}`;
      }
    }
  };
  entries["."] = `dir mode=${lstatSync(root).mode.toString(8)} mtime=${lstatSync(root).mtimeMs}`;
  walk(root, "");
  return entries;
}

/** Cache folders a Python or JS test run would leave behind if it ran in the project. */
export function cacheFoldersIn(fingerprint: TreeFingerprint): string[] {
  return Object.keys(fingerprint).filter((path) => /(^|\/)(__pycache__|\.pytest_cache|\.vite|\.jest-cache)(\/|$)/.test(path));
}
