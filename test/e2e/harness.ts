// Drives a real VS Code (code-server 4.100.3 = VS Code 1.100.3) in headless Chromium with playwright-core.
// The packaged VSIX is installed unmodified into a fresh extensions folder; every test gets a fresh user
// data folder and a temporary copy of its fixture workspace.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Frame, type Page } from "playwright-core";

export const ROOT = resolve(__dirname, "..", "..");
const CODE_SERVER = join(ROOT, ".tools", "code-server", "node_modules", "code-server", "out", "node", "entry.js");
export const VSIX = join(ROOT, "out", "rlef-linux-x64.vsix");
export const ARTIFACTS = join(ROOT, "test-results", "e2e");
const CHROMIUM = process.env.RLEF_CHROMIUM ?? "/usr/bin/chromium";

/** Fails with instructions when the tools are missing: the suite never skips silently. */
export function checkPrerequisites(): void {
  const missing: string[] = [];
  if (!existsSync(CODE_SERVER)) missing.push(`code-server (run: bash scripts/e2e/install-code-server.sh)`);
  if (!existsSync(VSIX)) missing.push(`the VSIX ${VSIX} (run: node scripts/package-vsix.mjs)`);
  if (!existsSync(CHROMIUM)) missing.push(`Chromium at ${CHROMIUM} (apt-get install chromium)`);
  if (missing.length) throw new Error(`end-to-end prerequisites missing:\n  - ${missing.join("\n  - ")}`);
}

let installedExtensions: string | null = null;

/** Installs the packaged VSIX once per test process with code-server's own --install-extension. */
export function installedExtensionsDir(): string {
  if (installedExtensions) return installedExtensions;
  const dir = mkdtempSync(join(tmpdir(), "rlef-e2e-ext-"));
  execFileSync(process.execPath, [CODE_SERVER, "--extensions-dir", dir, "--install-extension", VSIX], { stdio: "pipe", timeout: 120_000 });
  installedExtensions = dir;
  return dir;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolvePort(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface Session {
  page: Page;
  workspace: string;
  /** code-server's user data folder (User/settings.json, Machine/settings.json). */
  userData: string;
  close(): Promise<void>;
  shot(name: string): Promise<string>;
  serverLog(): string;
}

export interface SessionOptions {
  /** Fixture folder under test/e2e/fixtures (copied to a temporary workspace). */
  fixture: string;
  trust: boolean;
  /** Extra environment for code-server and so for the extension host and the language server. */
  env?: Record<string, string>;
  settings?: Record<string, unknown>;
  /**
   * Settings of the machine the extension runs on (`Machine/settings.json`): code-server's windows are remote
   * windows, which read machine-scoped settings (such as rlef.sessionLog.*) from there, not from `settings`.
   */
  machineSettings?: Record<string, unknown>;
  /** The workspace's own settings (`.vscode/settings.json` in the workspace copy). */
  workspaceSettings?: Record<string, unknown>;
}

export async function openSession(opts: SessionOptions): Promise<Session> {
  checkPrerequisites();
  const extensions = installedExtensionsDir();
  const base = mkdtempSync(join(tmpdir(), "rlef-e2e-"));
  const workspace = join(base, opts.fixture);
  cpSync(join(ROOT, "test", "e2e", "fixtures", opts.fixture), workspace, { recursive: true });
  const userData = join(base, "user-data");
  mkdirSync(join(userData, "User"), { recursive: true });
  writeFileSync(
    join(userData, "User", "settings.json"),
    JSON.stringify({
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "security.workspace.trust.startupPrompt": "always",
      "extensions.autoCheckUpdates": false,
      "extensions.autoUpdate": false,
      "telemetry.telemetryLevel": "off",
      "git.enabled": false,
      ...opts.settings,
    }),
  );
  if (opts.machineSettings) {
    mkdirSync(join(userData, "Machine"), { recursive: true });
    writeFileSync(join(userData, "Machine", "settings.json"), JSON.stringify(opts.machineSettings));
  }
  if (opts.workspaceSettings) {
    mkdirSync(join(workspace, ".vscode"), { recursive: true });
    writeFileSync(join(workspace, ".vscode", "settings.json"), JSON.stringify(opts.workspaceSettings));
  }
  const port = await freePort();
  let log = "";
  const server: ChildProcess = spawn(
    process.execPath,
    [CODE_SERVER, "--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--user-data-dir", userData, "--extensions-dir", extensions, "--disable-telemetry", "--disable-update-check", workspace],
    { env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  server.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  server.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  await waitFor(() => log.includes("HTTP server listening"), 60_000, "code-server to listen");

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: 90_000 });
  const trustButton = page.getByRole("button", { name: opts.trust ? "Yes, I trust the authors" : "No, I don't trust the authors" });
  await trustButton.waitFor({ timeout: 60_000 });
  await trustButton.click();
  mkdirSync(ARTIFACTS, { recursive: true });

  return {
    page,
    workspace,
    userData,
    serverLog: () => log,
    async shot(name) {
      const path = join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    async close() {
      await browser.close().catch(() => {});
      try {
        if (server.pid) process.kill(-server.pid, "SIGKILL");
      } catch {
        // already gone
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Opens a workspace file through Quick Open. */
export async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor();
  await input.fill(name);
  await page.locator(".quick-input-list .monaco-list-row").first().waitFor();
  await page.keyboard.press("Enter");
  await page.locator(`.tab[aria-label*="${name}"]`).first().waitFor({ timeout: 30_000 });
}

/** Moves the cursor to a 1-based line through Go to Line, and waits until the status bar shows it (retried:
 * a keystroke sent while the quick input is still opening is lost). */
export async function goToLine(page: Page, line: number): Promise<void> {
  const status = page.locator(".statusbar-item", { hasText: new RegExp(`Ln ${line},`) }).first();
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press("Control+G");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor();
    await input.fill(`:${line}`);
    await page.waitForTimeout(200);
    await page.keyboard.press("Enter");
    try {
      await status.waitFor({ timeout: 5_000 });
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
      await page.keyboard.press("Escape");
    }
  }
}

/** Runs a command from the palette by its title (e.g. "RLEF: Solve Problem in This File"): Enter on the
 * focused row once it is exactly that command, then waits for the palette to close. The palette filters its
 * commands by their `when` clauses once, as it opens: a command whose context is still being set up (a
 * proposal's diff editor that has not resolved its document yet) is missing from that list, so the palette is
 * closed and opened again until the command is offered. A command may open its own quick input at once, in the
 * same widget, so the palette may never be seen hidden. */
export async function runCommand(page: Page, title: string): Promise<void> {
  const widget = page.locator(".quick-input-widget");
  const input = widget.locator("input");
  const focused = page.locator(".quick-input-list .monaco-list-row.focused");
  const offered = async () => ((await focused.first().textContent({ timeout: 500 }).catch(() => "")) ?? "").includes(title);
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.keyboard.press("F1");
    await input.waitFor();
    await input.fill(`>${title}`);
    try {
      await waitFor(offered, Math.min(5_000, Math.max(deadline - Date.now(), 1)), `the palette to offer ${title}`);
      break;
    } catch {
      if (Date.now() >= deadline) throw new Error(`timed out after 30000 ms waiting for the palette to offer ${title}`);
      await page.keyboard.press("Escape");
      await widget.waitFor({ state: "hidden", timeout: 10_000 });
    }
  }
  await page.keyboard.press("Enter");
  // The palette is gone once the widget hides, or once a quick input the command opened at once has taken it over.
  const closed = async () => !(await widget.isVisible()) || !(await input.inputValue({ timeout: 500 }).catch(() => "")).startsWith(">");
  await waitFor(closed, 10_000, `the palette to close after running ${title}`);
}

/**
 * Starts an agent run from the palette and waits for its transcript panel. The first palette command in a
 * fresh VS Code profile is sometimes dropped while the workbench is still starting; then it is run again.
 */
export async function startRun(page: Page, title: string): Promise<void> {
  const transcriptTab = page.locator('.tab[aria-label*="RLEF Transcript"]').first();
  for (let attempt = 1; ; attempt++) {
    await runCommand(page, title);
    try {
      await transcriptTab.waitFor({ timeout: 15_000 });
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/** A visible notification toast containing `text`. */
export function notification(page: Page, text: string | RegExp) {
  return page.locator(".notification-toast", { hasText: text });
}

/** A modal dialog containing `text`. */
export function dialog(page: Page, text: string | RegExp) {
  return page.locator(".monaco-dialog-box", { hasText: text });
}

/**
 * Accepts or rejects the proposal: with the notification's button while the toast is shown, else (a toast
 * can hide itself while the page has no focus) with the same command from the palette.
 */
export async function decide(page: Page, toast: ReturnType<typeof notification>, choice: "Accept" | "Reject" | "One More Round"): Promise<void> {
  const button = toast.getByRole("button", { name: choice });
  if (await button.isVisible().catch(() => false)) {
    await button.click({ timeout: 10_000 });
    return;
  }
  await runCommand(page, choice === "Accept" ? "RLEF: Accept Proposed Change" : choice === "Reject" ? "RLEF: Reject Proposed Change" : "RLEF: One More Round");
}

/** Waits for a run's end: the diff of the proposal for `file`, titled with the run's summary. Returns its toast. */
export async function waitForProposal(page: Page, file: string, summary: string, timeoutMs = 120_000): Promise<ReturnType<typeof notification>> {
  await page.locator(`.tab[aria-label*="RLEF proposal: ${file} (${summary})"]`).first().waitFor({ timeout: timeoutMs });
  return notification(page, summary);
}

/** The transcript webview's inner document, once it shows `text`. */
export async function transcriptFrame(page: Page, text: string | RegExp, timeoutMs = 120_000): Promise<Frame> {
  let found: Frame | null = null;
  await waitFor(
    async () => {
      for (const frame of page.frames()) {
        const body = await frame.locator("#transcript").textContent({ timeout: 200 }).catch(() => null);
        if (body !== null && (typeof text === "string" ? body.includes(text) : text.test(body))) {
          found = frame;
          return true;
        }
      }
      return false;
    },
    timeoutMs,
    `the transcript to show ${String(text)}`,
  );
  return found as unknown as Frame;
}

export function writeReplay(dir: string, responses: string[], tokenDelayMs = 0): string {
  const path = join(dir, `replay-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify({ responses, tokenDelayMs }));
  return path;
}
