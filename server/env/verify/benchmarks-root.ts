// Where the benchmark data lives: an explicit option, else $RLEF_BENCHMARKS, else `../shared/benchmarks`
// beside the repository (found by walking up from this module, so it works from the source tree and the bundle).
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export function resolveBenchmarksRoot(explicit?: string): string {
  if (explicit) return resolve(explicit);
  if (process.env.RLEF_BENCHMARKS) return resolve(process.env.RLEF_BENCHMARKS);
  let dir = __dirname;
  while (true) {
    if (existsSync(join(dir, "package.json"))) return resolve(dir, "..", "shared", "benchmarks");
    const parent = dirname(dir);
    if (parent === dir) return resolve("..", "shared", "benchmarks");
    dir = parent;
  }
}
