// End-to-end: the packaged VSIX in a real VS Code (code-server) driven from the command palette.
// Runs with the bundled ONNX demo policy assert streamed tokens and real sandbox results for every attempt;
// deterministic success paths use a replay policy selected by the RLEF_REPLAY_POLICY environment variable
// (set here by the harness, never a setting of the shipped VSIX).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { checkPrerequisites, decide, dialog, goToLine, startRun, waitForProposal, installedExtensionsDir, notification, openFile, openSession, runCommand, transcriptFrame, waitFor, writeReplay } from "./harness";

let scratch: string;
before(() => {
  checkPrerequisites();
  installedExtensionsDir();
  scratch = mkdtempSync(join(tmpdir(), "rlef-e2e-replay-"));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

const wrongSum = "Let me try.\n```python\nn = int(input())\nprint(n)\n```\n";
const rightSum = "Now reading the numbers:\n```python\nn = int(input())\nprint(sum(map(int, input().split())))\n```\n";

/** The session log's files in `dir` (none when the folder does not exist). */
function sessionLogFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^sessions-\d{4}-\d{2}\.jsonl$/.test(n)) : [];
}

/** The session log's lines, once there are `count` of them. */
async function sessionLogLines(dir: string, count: number): Promise<Record<string, unknown>[]> {
  let lines: Record<string, unknown>[] = [];
  await waitFor(
    () => {
      lines = sessionLogFiles(dir).flatMap((n) =>
        readFileSync(join(dir, n), "utf8")
          .split("\n")
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
      return lines.length >= count;
    },
    30_000,
    `${count} lines in the session log in ${dir}`,
  );
  return lines;
}

/** Names, bytes, modes and mtimes of a whole tree. */
function snapshotTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      const key = relative(root, p);
      if (st.isDirectory()) {
        out.set(key, `dir ${st.mode} ${st.mtimeMs}`);
        walk(p);
      } else {
        out.set(key, `file ${st.mode} ${st.mtimeMs} ${readFileSync(p).toString("base64")}`);
      }
    }
  };
  walk(root);
  return out;
}

test("Solve Problem in This File: a failed attempt, feedback, a fix, the diff, and Accept writes exactly what was shown; with session logging on, the log holds the run and the Accept", async () => {
  const replay = writeReplay(scratch, [wrongSum, rightSum]);
  const logDir = join(scratch, `session-log-${Date.now()}`);
  const s = await openSession({
    fixture: "problem",
    trust: true,
    env: { RLEF_REPLAY_POLICY: replay },
    machineSettings: { "rlef.sessionLog.enabled": true, "rlef.sessionLog.folder": logDir },
  });
  try {
    await openFile(s.page, "sum.md");
    await startRun(s.page, "RLEF: Solve Problem in This File");
    await s.shot("solve-1-palette-run");
    const frame = await transcriptFrame(s.page, "Attempt 2");
    await s.shot("solve-2-progress-and-transcript");
    const transcript = (await frame.locator("#transcript").textContent()) ?? "";
    assert.match(transcript, /Feedback given to the model/);
    assert.match(transcript, /0 of 2 tests pass|1 of 2 tests pass/);
    const done = await waitForProposal(s.page, "sum.py", "all tests pass after 2 attempt(s)");
    await s.shot("solve-3-diff-review");
    assert.equal(existsSync(join(s.workspace, "sum.py")), false, "nothing is written before Accept");
    await decide(s.page, done, "Accept");
    await waitFor(() => existsSync(join(s.workspace, "sum.py")), 30_000, "sum.py to be created");
    assert.equal(readFileSync(join(s.workspace, "sum.py"), "utf8"), "n = int(input())\nprint(sum(map(int, input().split())))\n");
    await s.shot("solve-4-accepted");

    // The session log: the run, then the user's decision on its proposal, under the same run id.
    const [session, review, ...more] = await sessionLogLines(logDir, 2);
    assert.deepEqual(more, [], "one session and one review");
    assert.equal(session.type, "session");
    assert.equal(session.command, "solve");
    assert.equal(session.outcome, "solved");
    assert.equal((session.turns as unknown[]).length, 2);
    assert.match((session.task as { statement: string }).statement, /print their sum/);
    assert.equal(review.type, "review");
    assert.equal(review.session, session.id);
    assert.equal(review.decision, "accepted");

    // The status bar says runs are logged, and where (its tooltip; a hover can be missed, so the mouse comes back).
    const statusItem = s.page.locator(".statusbar-item", { hasText: "RLEF" }).first();
    const tooltip = s.page.locator(".monaco-hover", { hasText: `Session logging on: ${logDir}` }).first();
    for (let attempt = 1; ; attempt++) {
      await s.page.mouse.move(700, 450);
      await statusItem.hover();
      try {
        await tooltip.waitFor({ timeout: 5_000 });
        break;
      } catch (err) {
        if (attempt >= 3) {
          await s.shot("solve-5-status-tooltip-missing");
          throw err;
        }
      }
    }

    // Show Session Log reports it; Delete Session Logs… asks, then deletes it.
    await runCommand(s.page, "RLEF: Show Session Log");
    const shown = s.page.locator(".quick-input-widget .quick-input-list");
    await shown.locator(".monaco-list-row", { hasText: "1 accepted, 0 rejected" }).waitFor({ timeout: 15_000 });
    assert.match((await shown.textContent()) ?? "", /Session logging is on.*1 session/s);
    await s.shot("solve-5-session-log");
    await s.page.keyboard.press("Escape");
    await runCommand(s.page, "RLEF: Delete Session Logs…");
    const confirm = dialog(s.page, "Delete the RLEF session log (1 session)?");
    await confirm.waitFor({ timeout: 15_000 });
    await confirm.getByRole("button", { name: "Delete" }).click();
    await notification(s.page, "deleted 1 session log file").waitFor({ timeout: 15_000 });
    assert.deepEqual(sessionLogFiles(logDir), []);
  } finally {
    await s.close();
  }
});

test("One More Round continues from the last feedback with a typed hint, then Accept; with session logging off, nothing is logged", async () => {
  const replay = writeReplay(scratch, [wrongSum, rightSum]);
  // XDG_STATE_HOME moves the session log's default folder here.
  const state = join(scratch, `state-${Date.now()}`);
  const fromWorkspace = join(scratch, `workspace-log-${Date.now()}`);
  const s = await openSession({
    fixture: "problem",
    trust: true,
    env: { RLEF_REPLAY_POLICY: replay, XDG_STATE_HOME: state },
    settings: { "rlef.agent.attempts": 1 },
    // A cloned repository's settings cannot turn session logging on.
    workspaceSettings: { "rlef.sessionLog.enabled": true, "rlef.sessionLog.folder": fromWorkspace },
  });
  try {
    // Turning session logging on asks first (as in startRun, a command dropped by a starting workbench is run again); Cancel leaves it off.
    const consent = dialog(s.page, "Turn on RLEF session logging?");
    for (let attempt = 1; ; attempt++) {
      await runCommand(s.page, "RLEF: Turn On Session Logging…");
      try {
        await consent.waitFor({ timeout: 15_000 });
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
    const explained = (await consent.textContent()) ?? "";
    assert.ok(explained.includes(join(state, "rlef", "sessions")), `the dialog names the folder: ${explained}`);
    assert.match(explained, /redacted|replaced/);
    assert.match(explained, /never sent anywhere/);
    await s.shot("more-0-logging-consent");
    await consent.getByRole("button", { name: "Cancel" }).click();
    await consent.waitFor({ state: "hidden", timeout: 10_000 });

    await openFile(s.page, "sum.md");
    await startRun(s.page, "RLEF: Solve Problem in This File");
    const failed = await waitForProposal(s.page, "sum.py", "tests still failing after 1 attempt(s)");
    await decide(s.page, failed, "One More Round");
    const input = s.page.locator(".quick-input-widget input");
    await input.waitFor();
    await input.fill("read the second line and sum it");
    await s.shot("more-1-hint");
    await s.page.keyboard.press("Enter");
    const done = await waitForProposal(s.page, "sum.py", "all tests pass after 1 attempt(s)");
    await s.shot("more-2-solved");
    await decide(s.page, done, "Accept");
    await waitFor(() => existsSync(join(s.workspace, "sum.py")), 30_000, "sum.py to be created");
    assert.equal(readFileSync(join(s.workspace, "sum.py"), "utf8"), "n = int(input())\nprint(sum(map(int, input().split())))\n");

    // Both runs ended before their proposals were shown, so a logged record would be on disk by now.
    assert.equal(existsSync(join(state, "rlef")), false, "session logging is off by default: no log folder");
    assert.equal(existsSync(fromWorkspace), false, "a workspace's settings cannot turn session logging on");
    const userSettings = ["User", "Machine"].map((d) => join(s.userData, d, "settings.json")).filter(existsSync);
    for (const file of userSettings) assert.doesNotMatch(readFileSync(file, "utf8"), /sessionLog/, `the cancelled consent left ${file} alone`);
  } finally {
    await s.close();
  }
});

test("the bundled ONNX demo policy streams tokens and every attempt gets a real sandbox verdict", async () => {
  // Greedy decoding, so the run is the same every time (a sampled answer can be empty: the model may end at once).
  const s = await openSession({ fixture: "problem", trust: true, settings: { "rlef.agent.maxTokens": 48, "rlef.agent.temperature": 0 } });
  try {
    await openFile(s.page, "sum.md");
    await startRun(s.page, "RLEF: Solve Problem in This File");
    const frame = await transcriptFrame(s.page, /Result: /, 180_000);
    await s.shot("demo-1-transcript");
    // Every assertion message carries the whole transcript, so a failure says what the run showed.
    const shown = `\n--- transcript ---\n${await frame.locator("#transcript").innerText()}\n--- server log (tail) ---\n${s.serverLog().slice(-4000)}\n---`;
    assert.doesNotMatch(shown, /Result: error/, `the run ended in an error${shown}`);
    // The first messages of a run reach the panel too (a panel opened by the run must not drop them).
    assert.doesNotMatch(shown, /No run yet/, `the run's start reached the panel${shown}`);
    assert.match(shown, /Attempt 1 of 3/, `attempt 1's start reached the panel${shown}`);
    assert.equal(shown.match(/Result: /g)?.length, 1, `one result line${shown}`);
    const sections = frame.locator("section.turn");
    const count = await sections.count();
    assert.ok(count >= 1 && count <= 3, `1 to 3 attempts, got ${count}${shown}`);
    for (let i = 0; i < count; i++) {
      const answer = (await sections.nth(i).locator("pre.answer").textContent()) ?? "";
      assert.ok(answer.length > 0, `attempt ${i + 1} streamed tokens${shown}`);
      const verdict = await sections.nth(i).locator("p.invalid, p.tests").count();
      assert.equal(verdict, 1, `attempt ${i + 1} has a verdict (invalid response or sandbox test results)${shown}`);
    }
    // The run ends in a diff to review or an explicit "no valid code" outcome.
    const diffTab = s.page.locator('.tab[aria-label*="RLEF proposal: sum.py"]');
    const noCode = notification(s.page, /no valid code/);
    await waitFor(async () => (await diffTab.count()) > 0 || (await noCode.count()) > 0, 60_000, "a diff to review or an explicit no-valid-code outcome");
    await s.shot("demo-2-outcome");
    assert.equal(existsSync(join(s.workspace, "sum.py")), false);
  } finally {
    await s.close();
  }
});

test("Fix Until Tests Pass on a pytest project: Reject leaves the file byte-identical", async () => {
  const replay = writeReplay(scratch, ["```python\ndef sub(a, b):\n    return b - a\n```", "```python\ndef sub(a, b):\n    return a - b\n```"]);
  const s = await openSession({ fixture: "pytest-buggy", trust: true, env: { RLEF_REPLAY_POLICY: replay } });
  try {
    const before = readFileSync(join(s.workspace, "calc.py"));
    await openFile(s.page, "calc.py");
    await goToLine(s.page, 9);
    await startRun(s.page, "RLEF: Fix Until Tests Pass");
    const frame = await transcriptFrame(s.page, "Attempt 2");
    const text = (await frame.locator("#transcript").textContent()) ?? "";
    assert.match(text, /test_sub/);
    const done = await waitForProposal(s.page, "calc.py", "all tests pass after 2 attempt(s)");
    await s.shot("pytest-1-diff");
    await decide(s.page, done, "Reject");
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(readFileSync(join(s.workspace, "calc.py")), before);
    assert.equal(existsSync(join(s.workspace, "__pycache__")), false);
    assert.equal(existsSync(join(s.workspace, ".pytest_cache")), false);
  } finally {
    await s.close();
  }
});

test("Fix Until Tests Pass on a node --test project: Accept replaces just the function", async () => {
  const replay = writeReplay(scratch, ["```javascript\nfunction mul(a, b) {\n  return a * b;\n}\n```"]);
  const s = await openSession({ fixture: "node-test-buggy", trust: true, env: { RLEF_REPLAY_POLICY: replay } });
  try {
    await openFile(s.page, "calc.js");
    await goToLine(s.page, 3);
    await startRun(s.page, "RLEF: Fix Until Tests Pass");
    const done = await waitForProposal(s.page, "calc.js", "all tests pass after 1 attempt(s)");
    await s.shot("node-test-1-diff");
    await decide(s.page, done, "Accept");
    await waitFor(() => readFileSync(join(s.workspace, "calc.js"), "utf8").includes("a * b"), 30_000, "calc.js to change");
    assert.equal(
      readFileSync(join(s.workspace, "calc.js"), "utf8"),
      "// A tiny calculator with a bug in mul().\nfunction mul(a, b) {\n  return a * b;\n}\n\nmodule.exports = { mul };\n",
    );
  } finally {
    await s.close();
  }
});

test("Restricted Mode: the command explains why nothing runs, and nothing runs", async () => {
  const replay = writeReplay(scratch, [rightSum]);
  const s = await openSession({ fixture: "problem", trust: false, env: { RLEF_REPLAY_POLICY: replay } });
  try {
    const before = snapshotTree(s.workspace);
    await openFile(s.page, "sum.md");
    // As in startRun: a palette command dropped while a fresh workbench starts is run again.
    for (let attempt = 1; ; attempt++) {
      await runCommand(s.page, "RLEF: Solve Problem in This File");
      try {
        await notification(s.page, "disabled in Restricted Mode").waitFor({ timeout: 15_000 });
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
    await s.shot("restricted-1-explanation");
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(snapshotTree(s.workspace), before);
    assert.equal(
      s.page.frames().some((f) => f.url().includes("rlef.transcript")),
      false,
      "no transcript was opened",
    );
  } finally {
    await s.close();
  }
});

test("killing the language server mid-run leaves the workspace byte-identical (names, bytes, modes, mtimes)", async () => {
  const replay = writeReplay(scratch, ["```python\ndef sub(a, b):\n    return b - a\n```"], 40);
  const s = await openSession({ fixture: "pytest-buggy", trust: true, env: { RLEF_REPLAY_POLICY: replay } });
  try {
    const before = snapshotTree(s.workspace);
    await openFile(s.page, "calc.py");
    await goToLine(s.page, 9);
    await startRun(s.page, "RLEF: Fix Until Tests Pass");
    await transcriptFrame(s.page, "Attempt 1");
    const extensions = installedExtensionsDir();
    execFileSync("pkill", ["-KILL", "-f", `${extensions}.*dist/server.js`]);
    await new Promise((r) => setTimeout(r, 3000));
    await s.shot("kill-1-after-kill");
    assert.deepEqual(snapshotTree(s.workspace), before);
  } finally {
    await s.close();
  }
});
