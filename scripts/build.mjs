// Bundles the three entry points with esbuild. Native modules (onnxruntime-node) and the
// TypeScript compiler (used at run time to compile TypeScript tasks) stay external.
import { build } from "esbuild";

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
]);
