// Runs the Hub stand-in by hand, e.g. to point `rlef models download` or huggingface_hub at it:
//   node --import tsx test/hub-standin/main.ts owner/name=/path/to/model-folder [more...]
// Prints the endpoint (use it as HF_ENDPOINT) and serves until interrupted.
import { startHubStandin, type StandinRepo } from "./hub-standin";

async function main(argv: string[]): Promise<number> {
  const repos: Record<string, StandinRepo> = {};
  for (const arg of argv) {
    const match = /^([^=]+\/[^=]+)=(.+)$/.exec(arg);
    if (!match) {
      process.stderr.write(`usage: hub-standin owner/name=FOLDER [owner/name=FOLDER ...]\n`);
      return 2;
    }
    repos[match[1]] = { folder: match[2] };
  }
  if (Object.keys(repos).length === 0) {
    process.stderr.write(`usage: hub-standin owner/name=FOLDER [owner/name=FOLDER ...]\n`);
    return 2;
  }
  const hub = await startHubStandin({ repos });
  process.stdout.write(`${hub.endpoint}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await hub.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`hub-standin: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
