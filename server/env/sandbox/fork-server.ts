// One pre-started Python per worker (the stretch of the sandbox issue): a long-lived bubblewrap sandbox
// whose Python has already paid for interpreter start-up and forks a child per run.
//
// What stays per run: the memory and pids cgroups (the child is moved in before it runs anything), the
// rlimits, the wall clock, a fresh /work, /tmp and /dev/shm (wiped between runs), the environment and
// sys.modules. What is shared by the runs of one worker: its namespaces, and the hash seed
// (FORK_SERVER_HASH_SEED). A program can therefore signal
// the server (same uid, same pid namespace); the host notices, reports the run as killed and starts a
// new server. The server is non-dumpable, so a program cannot ptrace it or read its memory.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { closeSync, constants as fsConstants, mkdirSync, openSync, readdirSync, readFileSync, readSync, unlinkSync, writeFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { bwrapArgs } from "./bwrap";
import type { RunCgroupControl } from "./cgroups";
import { FORK_SERVER_SCRIPT } from "./fork-server-script";
import { launcherArgv, STATUS_FD } from "./launcher";
import { scrubbedEnv } from "./program";

const IO_IN_SANDBOX = "/run/rlef-io";
const SCRIPT_IN_SANDBOX = "/run/rlef-fork-server.py";
/** How long the server may take to answer once the run's processes are dead, before it is replaced. */
const SERVER_ANSWER_MS = 5_000;
const POLL_MS = 2;
/**
 * The hash seed every fork-server run hashes with: fixed when the server starts and inherited by the fork.
 * A spec that asks for another PYTHONHASHSEED runs in a fresh sandbox; one that asks for none (or runs
 * with -E/-I, where a fresh interpreter picks a random seed) gets this one.
 */
export const FORK_SERVER_HASH_SEED = "0";


type ServerMessage = { ready: true } | { pid: number } | { exit: number };

export interface ForkServerOptions {
  bwrapPath: string;
  python: string;
  pythonMount: string | null;
  etcDir: string;
  fileBlockBytes: number;
  folder: string;
}

export interface ForkRun {
  args: string[];
  /** Interpreter flags the child reproduces (fork-exec.ts, FORKABLE_FLAGS). */
  flags: string[];
  env: Record<string, string>;
  stdin: string | Buffer;
  files: Record<string, string | Buffer>;
  cpuMs: number;
  fileBytes: number;
  outputBytes: number;
  wallMs: number;
  cgroup: RunCgroupControl;
  signal: AbortSignal;
}

export interface ForkRunOutcome {
  exitCode: number | null;
  signal: string | null;
  killedBy: "timeout" | "cancelled" | null;
  /** The server died during the run (the program killed it, or it broke): the run counts as killed. */
  serverLost: boolean;
  stdout: Buffer;
  stderr: Buffer;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  wallMs: number;
}

/** Reads a FIFO without blocking; opened O_RDWR so that it never reports end-of-file between runs. */
class FifoReader {
  private readonly fd: number;
  private readonly chunk = Buffer.alloc(65536);
  private chunks: Buffer[] = [];
  private kept = 0;
  truncated = false;

  constructor(path: string) {
    this.fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
  }

  start(): void {
    this.chunks = [];
    this.kept = 0;
    this.truncated = false;
  }

  /** Reads whatever is in the pipe now; beyond `cap` it is drained and dropped. */
  drain(cap: number): void {
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.chunk, 0, this.chunk.length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EAGAIN") return;
        throw error;
      }
      if (n <= 0) return;
      const room = cap - this.kept;
      if (room > 0) {
        const take = Math.min(room, n);
        this.chunks.push(Buffer.from(this.chunk.subarray(0, take)));
        this.kept += take;
      }
      if (n > room) this.truncated = true;
    }
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export class PythonForkServer {
  private buffered = "";
  private readonly messages: ServerMessage[] = [];
  private waiter: ((message: ServerMessage | null) => void) | null = null;
  private exited = false;
  private initHostPid: number | null = null;
  private statusText = "";

  private constructor(
    private readonly child: ChildProcess,
    private readonly folder: string,
    private readonly stdout: FifoReader,
    private readonly stderr: FifoReader,
  ) {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      this.buffered += text;
      let newline: number;
      while ((newline = this.buffered.indexOf("\n")) >= 0) {
        const line = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
        this.deliver(JSON.parse(line) as ServerMessage);
      }
    });
    const status = child.stdio[STATUS_FD] as NodeJS.ReadableStream;
    status.setEncoding("utf8");
    status.on("data", (text: string) => {
      this.statusText += text;
      const pid = /"child-pid":\s*(\d+)/.exec(this.statusText);
      if (pid) this.initHostPid = Number(pid[1]);
    });
    child.stderr!.resume();
    child.on("exit", () => {
      this.exited = true;
      this.deliver(null);
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  static async start(options: ForkServerOptions): Promise<PythonForkServer> {
    const work = join(options.folder, "work");
    const io = join(options.folder, "io");
    await mkdir(work, { recursive: true, mode: 0o777 });
    await mkdir(io, { recursive: true });
    execFileSync("mkfifo", ["-m", "0666", join(io, "stdout"), join(io, "stderr")]);
    await writeFile(join(io, "stdin"), "", { mode: 0o644 });
    await writeFile(join(io, "request"), "{}", { mode: 0o644 });
    const script = join(options.folder, "fork-server.py");
    await writeFile(script, FORK_SERVER_SCRIPT);
    const stdout = new FifoReader(join(io, "stdout"));
    const stderr = new FifoReader(join(io, "stderr"));
    const env = scrubbedEnv({ binDir: null, home: "/work", tmp: "/tmp", extra: { PYTHONHASHSEED: FORK_SERVER_HASH_SEED } });
    const bwrap = bwrapArgs({
      workdir: work,
      readOnly: [
        ...(options.pythonMount ? [{ host: options.pythonMount, sandbox: options.pythonMount }] : []),
        { host: io, sandbox: IO_IN_SANDBOX },
        { host: script, sandbox: SCRIPT_IN_SANDBOX },
      ],
      env,
      argv: [options.python, SCRIPT_IN_SANDBOX],
      etcDir: options.etcDir,
      statusFd: STATUS_FD,
    });
    const child = spawn(
      "/bin/sh",
      launcherArgv({
        cgroupProcsFiles: [],
        keepStatusFd: true,
        // the server's own limits are generous; each run's child sets the run's limits on itself
        cpuMs: 10 ** 9,
        fileBytes: 2 ** 40,
        fileBlockBytes: options.fileBlockBytes,
        command: [options.bwrapPath, ...bwrap],
      }),
      { cwd: work, env: { PATH: "/usr/bin:/bin" }, stdio: ["pipe", "pipe", "pipe", "pipe"], detached: true },
    );
    const server = new PythonForkServer(child, options.folder, stdout, stderr);
    const first = await server.next(30_000);
    if (!first || !("ready" in first)) {
      server.kill();
      throw new Error("sandbox: the Python fork server did not start");
    }
    return server;
  }

  private deliver(message: ServerMessage | null): void {
    if (message) this.messages.push(message);
    const waiter = this.waiter;
    if (waiter && (this.messages.length > 0 || this.exited)) {
      this.waiter = null;
      waiter(this.messages.shift() ?? null);
    }
  }

  /** The next message, or null when the server is gone or `timeoutMs` passed. */
  private next(timeoutMs: number): Promise<ServerMessage | null> {
    if (this.messages.length > 0) return Promise.resolve(this.messages.shift()!);
    if (this.exited) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, timeoutMs);
      this.waiter = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }

  private send(message: object): void {
    if (!this.exited) this.child.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  /** The host pid of the server's child whose pid inside the sandbox is `nsPid`. */
  private hostPidOf(nsPid: number): number | null {
    if (this.initHostPid === null) return null;
    for (const serverPid of childPids(this.initHostPid)) {
      for (const pid of childPids(serverPid)) {
        const line = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        const ids = line ? line[1].trim().split(/\s+/).map(Number) : [];
        if (ids[ids.length - 1] === nsPid) return pid;
      }
    }
    return null;
  }

  async run(run: ForkRun): Promise<ForkRunOutcome> {
    // Small synchronous writes: under load each asynchronous one waits for a thread-pool turn, and they
    // were a third of a trivial run's time (profiled; bench/RESULTS.md). A large leftover /work is
    // removed asynchronously so that it does not stall the other workers.
    const work = join(this.folder, "work");
    for (const entry of readdirSync(work, { withFileTypes: true })) {
      if (entry.isDirectory()) await rm(join(work, entry.name), { recursive: true, force: true });
      else unlinkSync(join(work, entry.name));
    }
    writeFileSync(join(this.folder, "io", "stdin"), run.stdin);
    // The child reads its request after the fork: the server itself never holds a run's data.
    writeFileSync(
      join(this.folder, "io", "request"),
      JSON.stringify({ args: run.args, flags: run.flags, env: run.env, cpuSeconds: Math.max(1, Math.ceil(run.cpuMs / 1000)), fileBytes: run.fileBytes }),
    );
    for (const [path, content] of Object.entries(run.files)) {
      mkdirSync(join(work, path, ".."), { recursive: true, mode: 0o777 });
      writeFileSync(join(work, path), content, { mode: 0o666 });
    }
    this.stdout.drain(0);
    this.stderr.drain(0);
    this.stdout.start();
    this.stderr.start();

    this.send({ fork: true });
    const forked = await this.next(SERVER_ANSWER_MS);
    const outcome: ForkRunOutcome = {
      exitCode: null,
      signal: null,
      killedBy: null,
      serverLost: false,
      stdout: Buffer.alloc(0),
      stderr: Buffer.alloc(0),
      stdoutTruncated: false,
      stderrTruncated: false,
      wallMs: 0,
    };
    const hostPid = forked && "pid" in forked ? this.hostPidOf(forked.pid) : null;
    if (hostPid === null) {
      this.send({ go: false });
      this.kill();
      throw new Error("sandbox: the Python fork server did not fork a run");
    }
    // The child is blocked on its go pipe: join it to the run's cgroups before it runs anything.
    for (const procs of run.cgroup.procsFiles) writeFileSync(procs, String(hostPid));
    if (run.signal.aborted) {
      this.send({ go: false });
    } else {
      this.send({ go: true });
    }

    const started = Date.now();
    const poll = setInterval(() => {
      this.stdout.drain(run.outputBytes);
      this.stderr.drain(run.outputBytes);
    }, POLL_MS);
    const kill = (reason: "timeout" | "cancelled") => {
      if (!outcome.killedBy) outcome.killedBy = reason;
      void run.cgroup.killAll().catch(() => undefined);
    };
    const timer = setTimeout(() => kill("timeout"), run.wallMs);
    const onAbort = () => kill("cancelled");
    run.signal.addEventListener("abort", onAbort, { once: true });
    if (run.signal.aborted) outcome.killedBy = "cancelled";
    let exit: ServerMessage | null;
    try {
      exit = await this.next(run.wallMs + SERVER_ANSWER_MS);
    } finally {
      clearTimeout(timer);
      run.signal.removeEventListener("abort", onAbort);
    }
    outcome.wallMs = Date.now() - started;
    // Orphans of the program die with it; only then is the output complete.
    const emptied = await run.cgroup.killAll();
    clearInterval(poll);
    this.stdout.drain(run.outputBytes);
    this.stderr.drain(run.outputBytes);
    Object.assign(outcome, {
      stdout: this.stdout.bytes(),
      stderr: this.stderr.bytes(),
      stdoutTruncated: this.stdout.truncated,
      stderrTruncated: this.stderr.truncated,
    });
    if (!exit || !("exit" in exit) || !emptied) {
      outcome.serverLost = true;
      outcome.signal = "SIGKILL";
      this.kill();
      return outcome;
    }
    if (exit.exit < 0) outcome.signal = signalName(-exit.exit);
    else outcome.exitCode = exit.exit;
    // Wait for the wipe before handing the worker back: when a run returns, nothing of it is left.
    this.send({ clean: true });
    const ready = await this.next(SERVER_ANSWER_MS);
    if (!ready || !("ready" in ready)) this.kill();
    return outcome;
  }

  /** Files of the last run's working directory, as the host sees them. */
  get workdir(): string {
    return join(this.folder, "work");
  }

  kill(): void {
    this.exited = true;
    for (const target of [this.child.pid, this.child.pid === undefined ? undefined : -this.child.pid]) {
      if (target === undefined) continue;
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  async dispose(): Promise<void> {
    this.kill();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise((resolve) => this.child.once("exit", resolve));
    }
    this.stdout.close();
    this.stderr.close();
    await rm(this.folder, { recursive: true, force: true });
  }
}

/** Host pids of `pid`'s children. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return childPidsByScan(pid); // kernels without CONFIG_PROC_CHILDREN
  }
}

export function childPidsByScan(pid: number): number[] {
  const parentLine = new RegExp(`^PPid:\\s+${pid}$`, "m");
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((candidate) => {
      try {
        return parentLine.test(readFileSync(`/proc/${candidate}/status`, "utf8"));
      } catch {
        return false;
      }
    });
}

function signalName(number: number): string | null {
  const found = Object.entries(osConstants.signals).find(([, value]) => value === number);
  return found ? found[0] : null;
}
