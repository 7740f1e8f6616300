// The @vscode/test-electron + mocha integration suite, for machines that can run desktop VS Code.
// test-electron normally downloads VS Code at run time; this project's CI machines cannot download it, so
// the suite runs only against a VS Code binary named by RLEF_VSCODE_PATH, and says clearly when it is skipped.
// Usage: RLEF_VSCODE_PATH=/path/to/code node scripts/test-electron.mjs
import { existsSync, mkdtempSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const root = resolve(import.meta.dirname, "..");
const vscode = process.env.RLEF_VSCODE_PATH;
if (!vscode) {
  console.log(
    "test-electron integration suite: SKIPPED because RLEF_VSCODE_PATH is not set. @vscode/test-electron downloads " +
      "VS Code at run time, which this machine cannot do; set RLEF_VSCODE_PATH to a desktop VS Code binary to run it. " +
      "(The end-to-end suite in test/e2e covers the same flows in code-server.)",
  );
  process.exit(0);
}
if (!existsSync(vscode)) {
  console.error(`RLEF_VSCODE_PATH=${vscode} does not exist`);
  process.exit(1);
}
const { runTests } = await import("@vscode/test-electron");
const out = join(root, "out", "integration");
await build({
  entryPoints: [join(root, "test", "integration", "suite.ts")],
  outfile: join(out, "suite.js"),
  bundle: true,
  platform: "node",
  format: "cjs",
  external: ["vscode", "mocha"],
});
const workspace = mkdtempSync(join(tmpdir(), "rlef-int-"));
cpSync(join(root, "test", "e2e", "fixtures", "problem"), workspace, { recursive: true });
const replay = join(workspace, ".replay.json");
writeFileSync(replay, JSON.stringify({ responses: ["```python\nn = int(input())\nprint(sum(map(int, input().split())))\n```"] }));
await runTests({
  vscodeExecutablePath: vscode,
  extensionDevelopmentPath: root,
  extensionTestsPath: join(out, "suite.js"),
  launchArgs: [workspace, "--disable-extensions", "--disable-workspace-trust"],
  extensionTestsEnv: { RLEF_REPLAY_POLICY: replay },
});
