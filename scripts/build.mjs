// Bundles the entry points with esbuild. Native modules (onnxruntime-node) and the TypeScript compiler
// (used at run time to compile TypeScript tasks and to find functions) stay external.
import { build } from "esbuild";
import { cpSync, mkdirSync } from "node:fs";

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  logLevel: "warning",
  external: ["vscode", "onnxruntime-node", "typescript"],
};

await Promise.all([
  build({ ...common, entryPoints: ["server/cli/main.ts"], outfile: "dist/rlef.js" }),
  build({ ...common, entryPoints: ["server/lsp/main.ts"], outfile: "dist/server.js" }),
  build({ ...common, entryPoints: ["extension/extension.ts"], outfile: "dist/extension.js" }),
]);

// Files the bundles read at run time (test harnesses that run inside the sandbox).
mkdirSync("dist/harness", { recursive: true });
cpSync("server/env/run/harness", "dist/harness", { recursive: true });
