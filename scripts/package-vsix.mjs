// Builds a platform-specific VSIX: the bundles, media, the demo model, and only the run-time natives the
// bundles leave external (onnxruntime-node with just this platform's binaries, and the TypeScript compiler).
// It stages those files in out/vsix-<target>/ and runs `vsce package --target <target>` there, so nothing
// else (sources, tests, fixtures, dev dependencies) can slip in.
// Usage: node scripts/package-vsix.mjs [--target linux-x64] [--out out/rlef-linux-x64.vsix]
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { target: { type: "string", default: "linux-x64" }, out: { type: "string" } } });
const target = values.target;
const TARGETS = { "linux-x64": ["linux", "x64"], "linux-arm64": ["linux", "arm64"], "darwin-arm64": ["darwin", "arm64"], "win32-x64": ["win32", "x64"], "win32-arm64": ["win32", "arm64"] };
if (!TARGETS[target]) {
  console.error(`unknown target ${target}; one of ${Object.keys(TARGETS).join(", ")}`);
  process.exit(2);
}
const [os, arch] = TARGETS[target];
const root = resolve(import.meta.dirname, "..");
const out = resolve(values.out ?? join(root, "out", `rlef-${target}.vsix`));
const stage = join(root, "out", `vsix-${target}`);

for (const needed of ["dist/extension.js", "dist/server.js", "dist/rlef.js", "models/demo/onnx/model.onnx"]) {
  if (!existsSync(join(root, needed))) {
    console.error(`missing ${needed}: run 'npm run build' (and .ci/install for the demo model) first`);
    process.exit(1);
  }
}

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
const copy = (from, to = from, filter = () => true) => cpSync(join(root, from), join(stage, to), { recursive: true, filter: (src) => filter(src) });

const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const version = (name) => JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;
delete manifest.devDependencies;
delete manifest.scripts;
delete manifest.bin;
manifest.dependencies = { "onnxruntime-node": version("onnxruntime-node"), typescript: version("typescript") };
writeFileSync(join(stage, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
for (const f of ["README.md", "LICENSE"]) copy(f);
copy("dist", "dist", (src) => !src.endsWith(".map"));
copy("media");
// The demo model as the extension runs it (ONNX); its safetensors copy is for the trainer's check only.
copy("models/demo", "models/demo", (src) => !src.endsWith(".safetensors"));

// onnxruntime-node: its loader and this platform's binaries only; its install-time dependencies dropped.
const ort = "node_modules/onnxruntime-node";
for (const part of ["dist", "lib", "README.md"]) if (existsSync(join(root, ort, part))) copy(join(ort, part));
const bins = join(ort, "bin");
for (const napi of readdirSync(join(root, bins))) copy(join(bins, napi, os, arch));
const ortManifest = JSON.parse(readFileSync(join(root, ort, "package.json"), "utf8"));
ortManifest.dependencies = { "onnxruntime-common": ortManifest.dependencies["onnxruntime-common"] };
delete ortManifest.scripts;
writeFileSync(join(stage, ort, "package.json"), JSON.stringify(ortManifest, null, 2) + "\n");
copy("node_modules/onnxruntime-common/package.json");
copy("node_modules/onnxruntime-common/dist/cjs");
// TypeScript: the compiler and the standard library declarations (TypeScript tasks are type-checked).
copy("node_modules/typescript/package.json");
copy("node_modules/typescript/LICENSE.txt");
for (const f of readdirSync(join(root, "node_modules/typescript/lib"))) {
  if (f === "typescript.js" || /^lib\..*\.d\.ts$/.test(f)) copy(join("node_modules/typescript/lib", f));
}
writeFileSync(join(stage, ".vscodeignore"), "**/*.map\n**/*.d.ts.map\n");

mkdirSync(join(out, ".."), { recursive: true });
const vsce = join(root, "node_modules", ".bin", "vsce");
execFileSync(vsce, ["package", "--target", target, "--out", out, "--allow-missing-repository", "--skip-license"], { cwd: stage, stdio: "inherit" });
const size = statSync(out).size;
console.log(`VSIX for ${target}: ${out} (${(size / 1024 / 1024).toFixed(1)} MiB)`);
