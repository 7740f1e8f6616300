// `rlef env serve`: runs the environment service (docs/env-protocol.md) until interrupted.
import { parseArgs } from "node:util";
import { createSandbox } from "../../env/sandbox";
import { startEnvService } from "../../service/server";

const USAGE = `usage: rlef env serve [options]

Serves RLEF episodes over WebSocket (protocol: docs/env-protocol.md).

options:
  --host H                  address to bind (default 127.0.0.1; anything else exposes code execution to the network)
  --port P                  port (default 0: a free port, printed on start)
  --token T                 client token (default: random, printed on start; or set RLEF_ENV_TOKEN)
  --benchmarks DIR          folder of the built-in benchmark sets (default ../shared/benchmarks)
  --workers N               sandboxed programs running at once (default: the number of cores)
  --allow-workspace-tasks   accept inline workspace tasks (they name folders on this machine)
  --allow-unisolated        run untrusted code without bubblewrap if it is unavailable (explicit consent)
  --exit-with-stdin         also shut down when standard input closes (for a parent that holds the other
                            end of a pipe: the service then ends with its parent, even a killed one)
  -h, --help                show this help
`;

export async function envServeCommand(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        token: { type: "string" },
        benchmarks: { type: "string" },
        workers: { type: "string" },
        "allow-workspace-tasks": { type: "boolean" },
        "allow-unisolated": { type: "boolean" },
        "exit-with-stdin": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`rlef env serve: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const port = parseInteger(values.port, "--port", 0, 65_535);
  const workers = parseInteger(values.workers, "--workers", 1, 4096);
  if (port === null || workers === null) return 2;
  const token = values.token ?? process.env.RLEF_ENV_TOKEN;
  if (token !== undefined && token.length < 16) {
    process.stderr.write("rlef env serve: the token must be at least 16 characters\n");
    return 2;
  }

  // The fork server where bubblewrap + cgroups are active: 3-4x the runs per second for rollouts
  // (bench/RESULTS.md, "Pipeline throughput"); the isolation line below names what it gives up.
  const sandbox = await createSandbox({ workers, allowUnisolated: values["allow-unisolated"] === true, forkServer: "auto" });
  const service = await startEnvService({
    sandbox,
    host: values.host,
    port,
    token,
    benchmarksRoot: values.benchmarks,
    allowWorkspaceTasks: values["allow-workspace-tasks"] === true,
  });
  const isolation = sandbox.isolation;
  process.stdout.write(
    `rlef env service listening on ${service.url}\n` +
      `token: ${service.token}\n` +
      `isolation: ${isolation.mode}${isolation.missing.length ? ` (missing: ${isolation.missing.join("; ")})` : ""}\n`,
  );
  if (isolation.mode === "none") process.stdout.write("warning: UNISOLATED execution (--allow-unisolated): programs run with your user's rights\n");
  if (!/^(127\.|::1$|localhost$)/.test(service.host)) {
    process.stdout.write(`warning: bound to ${service.host}, not loopback: anyone who can reach it and knows the token can run code here\n`);
  }

  const reason = await new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
    if (values["exit-with-stdin"]) {
      process.stdin.once("end", () => resolve("standard input closed"));
      process.stdin.once("error", () => resolve("standard input closed"));
      process.stdin.resume(); // read (and drop) anything written, so the "end" event comes
    }
  });
  process.stdout.write(`rlef env service: shutting down (${reason})\n`);
  await service.close();
  await sandbox.dispose();
  return 0;
}

function parseInteger(text: string | undefined, flag: string, min: number, max: number): number | undefined | null {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    process.stderr.write(`rlef env serve: ${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}\n`);
    return null;
  }
  return n;
}
