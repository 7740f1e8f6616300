// verify-exclusions.json: tasks whose verification fails because the dataset itself is wrong. Every entry
// names its evidence; the file is read strictly, so a malformed entry stops verify instead of hiding a failure.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";

export interface VerifyExclusion {
  set: string;
  taskId: string;
  /** What is wrong with the record, in one sentence. */
  reason: string;
  /** How to see it: the failing input, the reference's output and the asserted one. */
  evidence: string;
}

export function parseExclusions(text: string, source: string): VerifyExclusion[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${source}: must be a JSON array of exclusions`);
  return parsed.map((entry: unknown, i) => {
    const e = entry as Record<string, unknown>;
    for (const field of ["set", "taskId", "reason", "evidence"]) {
      if (!e || typeof e !== "object" || typeof e[field] !== "string" || (e[field] as string).trim() === "") {
        throw new Error(`${source}: entry ${i} needs a non-empty string "${field}"`);
      }
    }
    return { set: e.set as string, taskId: e.taskId as string, reason: e.reason as string, evidence: e.evidence as string };
  });
}

/** The repository's verify-exclusions.json (found by walking up from this module). */
export function defaultExclusionsPath(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) return join(process.cwd(), "verify-exclusions.json");
    dir = parent;
  }
  return join(dir, "verify-exclusions.json");
}

export async function loadExclusions(path = defaultExclusionsPath()): Promise<VerifyExclusion[]> {
  if (!existsSync(path)) return [];
  return parseExclusions(await readFile(path, "utf8"), path);
}
