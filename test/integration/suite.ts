// Runs inside a desktop VS Code's extension host (scripts/test-electron.mjs); mocha, as test-electron expects.
import * as assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import Mocha from "mocha";
import * as vscode from "vscode";

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: "bdd", timeout: 120_000, color: false });
  mocha.suite.emit("pre-require", globalThis, "suite", mocha);
  describe("RLEF extension", () => {
    it("activates and registers its commands", async () => {
      const ext = vscode.extensions.all.find((e) => e.packageJSON.name === "rlef-vscode");
      assert.ok(ext, "the extension is installed");
      await ext.activate();
      const commands = await vscode.commands.getCommands(true);
      for (const id of ["rlef.solveProblem", "rlef.fixUntilTestsPass", "rlef.stop", "rlef.selectModel", "rlef.downloadModel", "rlef.setApiKey", "rlef.showOutput", "rlef.openTrainingDashboard"]) {
        assert.ok(commands.includes(id), `${id} is registered`);
      }
    });
    it("solves the problem file and proposes sum.py without writing it", async () => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      assert.ok(folder);
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, "sum.md"));
      await vscode.window.showTextDocument(doc);
      void vscode.commands.executeCommand("rlef.solveProblem");
      const deadline = Date.now() + 60_000;
      while (!vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.label.startsWith("RLEF proposal: sum.py"))) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.label.startsWith("RLEF proposal: sum.py"))), "the diff opened");
      assert.equal(existsSync(join(folder.uri.fsPath, "sum.py")), false);
      await vscode.commands.executeCommand("rlef.acceptProposal");
      assert.ok(existsSync(join(folder.uri.fsPath, "sum.py")));
    });
  });
  await new Promise<void>((resolve, reject) => mocha.run((failures) => (failures ? reject(new Error(`${failures} failed`)) : resolve())));
}
