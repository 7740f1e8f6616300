// Runs node's test runner over every `*.test.ts` under the given folders (Node 20 has no globs).
// Usage: node scripts/run-tests.mjs test/unit [more folders or files] [-- extra node --test flags]
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const sep = args.indexOf("--");
const folders = sep < 0 ? args : args.slice(0, sep);
const extra = sep < 0 ? [] : args.slice(sep + 1);

function find(dir) {
  if (!statSync(dir).isDirectory()) return dir.endsWith(".test.ts") ? [dir] : [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const files = folders.flatMap(find);
if (files.length === 0) {
  console.error(`no test files under ${folders.join(", ")}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...extra, ...files], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
