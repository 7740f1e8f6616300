// Entry point of the sandbox: finds what isolation this machine offers, refuses to run untrusted code
// unisolated without explicit consent, and runs programs through a pool sized to the cores.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import type { IsolationReport } from "../types";
import { probeBwrap, writeSyntheticEtc } from "./bwrap";
import { isCgroupV1Host, sandboxGroupName, setUpCgroupV1 } from "./cgroup-v1";
import { isCgroupV2Host, setUpCgroupV2, tearDownCgroupV2 } from "./cgroup-v2";
import { type SandboxCgroups, tearDownCgroups } from "./cgroups";
import { type Backend, cancelledResult, checkSpec, executeRun } from "./execute";
import { executeOnForkServer, forkableProgram, forkServerFolder, forkServerReport } from "./fork-exec";
import { PythonForkServer } from "./fork-server";
import { findOnPath } from "./interpreter";
import { probeFileBlockBytes } from "./launcher";
import { AbortedWhileQueued, WorkerPool } from "./pool";
import { ProgramResolver } from "./program";
import type { ExecResult, ExecSpec, Sandbox } from "./types";

export { resolveInterpreter } from "./interpreter";
export type * from "./types";

export type SandboxMode = "auto" | "bwrap" | "unisolated";

export interface SandboxOptions {
  /** auto: bubblewrap when it works here, else unisolated if consented. Default auto. */
  mode?: SandboxMode;
  /** Explicit consent to run untrusted code without bubblewrap (the CLI flag / the editor's prompt). */
  allowUnisolated?: boolean;
  /** Programs running at once. Default: os.availableParallelism(). */
  workers?: number;
  /**
   * Run plain `python3 -c CODE` / `python3 FILE` execs on a pre-started Python per worker that forks a
   * child per run (fork-server.ts says what is and is not per run). true: needs bwrap and both cgroups
   * (else createSandbox fails); "auto": on exactly when they are there, else every run is fresh. Default
   * off. The isolation report names "fork-server" and the per-run namespaces it gives up whenever it is on.
   */
  forkServer?: boolean | "auto";
}

export class UnisolatedConsentError extends Error {
  constructor(reason: string) {
    super(
      `sandbox: ${reason}. Running untrusted code without isolation needs explicit consent: ` +
        `pass { allowUnisolated: true } to createSandbox (the CLI's --allow-unisolated flag, the editor's consent prompt).`,
    );
    this.name = "UnisolatedConsentError";
  }
}

const BWRAP_PROTECTIONS = ["namespaces", "no-network", "read-only-system", "private-tmp", "dropped-capabilities"];

/** What a run lacks without each cgroup, appended to the reason on a v2 host (cgroup-v2.ts finds the subtree). */
const WITHOUT_CGROUP: Record<string, string> = {
  "memory-cgroup": "resident memory is not limited (rlimits here: CPU time, file size, no core dumps; no RLIMIT_AS, which interpreters' address-space reservations exceed)",
  "pids-cgroup": "the number of processes is not limited (no RLIMIT_NPROC: it counts every process of the user, and does not bind root)",
};

async function findCgroupsV2(name: string): Promise<{ setup: SandboxCgroups | null; missing: string[] }> {
  const found = isCgroupV2Host()
    ? await setUpCgroupV2(name).catch((error: unknown) => ({ setup: null, missing: ["memory", "pids"].map((c) => `${c}-cgroup: cgroup v2: ${String(error)}`) }))
    : { setup: null, missing: ["memory-cgroup: no cgroup hierarchy found", "pids-cgroup: no cgroup hierarchy found"] };
  const missing = found.missing.map((entry) => {
    const consequence = WITHOUT_CGROUP[entry.slice(0, entry.indexOf(":"))];
    return consequence ? `${entry}; ${consequence}` : entry;
  });
  if (found.setup && !found.setup.memory && !found.setup.pids) {
    // a subtree with neither controller limits nothing; the runs stay in our cgroup as before
    await tearDownCgroupV2(found.setup);
    return { setup: null, missing };
  }
  return { setup: found.setup, missing };
}

async function findCgroups(name: string): Promise<{ setup: SandboxCgroups | null; missing: string[] }> {
  if (process.platform !== "linux") {
    return { setup: null, missing: [`memory-cgroup: ${process.platform} has no cgroups`, `pids-cgroup: ${process.platform} has no cgroups`] };
  }
  if (!isCgroupV1Host()) return findCgroupsV2(name);
  const setup = await setUpCgroupV1(name);
  return { setup: setup.memory || setup.pids ? setup : null, missing: setup.missing };
}

export async function createSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const mode = opts.mode ?? "auto";
  if (!["auto", "bwrap", "unisolated"].includes(mode)) throw new Error(`createSandbox: unknown mode ${JSON.stringify(mode)}`);
  const workers = opts.workers ?? availableParallelism();
  const pool = new WorkerPool(workers);
  if (mode === "unisolated" && opts.allowUnisolated !== true) throw new UnisolatedConsentError("unisolated mode was requested");
  if (opts.forkServer !== undefined && ![true, false, "auto"].includes(opts.forkServer)) {
    throw new Error(`createSandbox: forkServer must be true, false or "auto", got ${JSON.stringify(opts.forkServer)}`);
  }

  const stateDir = await mkdtemp(join(tmpdir(), "rlef-sandbox-"));
  const etcDir = join(stateDir, "etc");
  let cgroupSetup: SandboxCgroups | null = null;
  try {
    await writeSyntheticEtc(etcDir);
    let bwrapPath: string | null = null;
    if (mode !== "unisolated") {
      const found = process.platform === "linux" ? await findOnPath("bwrap") : null;
      const problem = found ? await probeBwrap(found, etcDir, stateDir) : "bubblewrap (bwrap) is not installed";
      if (!problem) bwrapPath = found;
      else if (mode === "bwrap") throw new Error(`sandbox: ${problem}`);
      else if (opts.allowUnisolated !== true) throw new UnisolatedConsentError(problem);
    }

    const cgroupName = sandboxGroupName(process.pid, randomBytes(4).toString("hex"));
    const cgroups = await findCgroups(cgroupName);
    cgroupSetup = cgroups.setup;
    const fileBlockBytes = await probeFileBlockBytes().catch(() => null);

    const enforced = bwrapPath ? [...BWRAP_PROTECTIONS] : [];
    const missing = bwrapPath ? [] : BWRAP_PROTECTIONS.map((p) => `${p}: unisolated mode (consented)`);
    if (cgroups.setup?.memory) enforced.push("memory-cgroup");
    if (cgroups.setup?.pids) enforced.push("pids-cgroup");
    missing.push(...cgroups.missing);
    enforced.push("rlimits");
    if (fileBlockBytes === null) missing.push("rlimits: /bin/sh's ulimit -f unit not measurable here; assumed POSIX 512-byte blocks");
    enforced.push("scrubbed-env");
    const fullCgroups = Boolean(cgroups.setup?.memory && cgroups.setup?.pids);
    const isolation: IsolationReport = {
      mode: bwrapPath ? (fullCgroups ? "bwrap+cgroup" : "bwrap") : "none",
      enforced,
      missing,
    };
    const backend: Backend = {
      isolation,
      bwrapPath,
      fileBlockBytes: fileBlockBytes ?? 512,
      cgroups: cgroups.setup,
      etcDir,
      programs: new ProgramResolver(),
    };
    let forkServer: ForkServerSetup | null = null;
    const forkServerUsable = Boolean(bwrapPath) && fullCgroups;
    if (opts.forkServer === true || (opts.forkServer === "auto" && forkServerUsable)) {
      if (!bwrapPath || !forkServerUsable) {
        throw new Error(`sandbox: forkServer needs bubblewrap and memory + pids cgroups; here: ${JSON.stringify(isolation)}`);
      }
      const python = await backend.programs.resolve("python3", []);
      forkServer = { bwrapPath, python: python.execPath, pythonMount: python.mount };
    }
    return new PooledSandbox(backend, pool, stateDir, forkServer);
  } catch (error) {
    if (cgroupSetup) await tearDownCgroups(cgroupSetup);
    await rm(stateDir, { recursive: true, force: true });
    throw error;
  }
}

interface ForkServerSetup {
  bwrapPath: string;
  python: string;
  pythonMount: string | null;
}

class PooledSandbox implements Sandbox {
  private disposed = false;
  private runCounter = 0;
  private serverCounter = 0;
  private readonly stopAll = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly idleServers: PythonForkServer[] = [];
  private readonly servers = new Set<PythonForkServer>();

  constructor(
    private readonly backend: Backend,
    private readonly pool: WorkerPool,
    private readonly stateDir: string,
    private readonly forkServer: ForkServerSetup | null,
  ) {}

  /** With the fork server on, runs may share their worker's namespaces: the report says so for all of them. */
  get isolation(): IsolationReport {
    return this.forkServer ? forkServerReport(this.backend.isolation) : this.backend.isolation;
  }

  async exec(spec: ExecSpec): Promise<ExecResult> {
    if (this.disposed) throw new Error("sandbox: exec after dispose");
    checkSpec(spec); // malformed specs fail at once, not after waiting for a worker
    const signal = spec.signal ? AbortSignal.any([spec.signal, this.stopAll.signal]) : this.stopAll.signal;
    const runName = `run-${++this.runCounter}`;
    const running = this.pool.run(() => this.execOnWorker(spec, runName, signal), signal);
    this.inFlight.add(running);
    try {
      return await running;
    } catch (error) {
      if (error instanceof AbortedWhileQueued) return cancelledResult(this.backend.isolation);
      throw error;
    } finally {
      this.inFlight.delete(running);
    }
  }

  private async execOnWorker(spec: ExecSpec, runName: string, signal: AbortSignal): Promise<ExecResult> {
    const program = this.forkServer ? await forkableProgram(this.backend, spec, this.forkServer.python) : null;
    if (!this.forkServer || !program) return executeRun(this.backend, spec, runName, signal);
    let server: PythonForkServer;
    try {
      server = await this.takeServer(this.forkServer);
    } catch {
      // A server that cannot start costs speed, not correctness: run this one in a fresh sandbox.
      return executeRun(this.backend, spec, runName, signal);
    }
    try {
      return await executeOnForkServer(this.backend, server, spec, program, runName, signal);
    } finally {
      if (server.alive && !this.disposed) this.idleServers.push(server);
      else await this.retire(server);
    }
  }

  /** An idle live server; the pool's limit keeps their number at most `workers`. */
  private async takeServer(setup: ForkServerSetup): Promise<PythonForkServer> {
    for (let server = this.idleServers.pop(); server; server = this.idleServers.pop()) {
      if (server.alive) return server;
      await this.retire(server);
    }
    const server = await PythonForkServer.start({
      ...setup,
      etcDir: this.backend.etcDir,
      fileBlockBytes: this.backend.fileBlockBytes,
      folder: forkServerFolder(this.stateDir, ++this.serverCounter),
    });
    this.servers.add(server);
    return server;
  }

  private async retire(server: PythonForkServer): Promise<void> {
    this.servers.delete(server);
    await server.dispose();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.stopAll.abort();
    this.pool.rejectQueued(new AbortedWhileQueued());
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled([...this.servers].map((server) => this.retire(server)));
    this.idleServers.length = 0;
    if (this.backend.cgroups) await tearDownCgroups(this.backend.cgroups);
    await rm(this.stateDir, { recursive: true, force: true });
  }
}
