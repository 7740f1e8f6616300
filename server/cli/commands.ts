// The table of `rlef` subcommands. Each command parses its own arguments.
import { envServeCommand } from "./commands/env-serve";
import { evalCommand } from "./commands/eval";
import { modelsCommand } from "./commands/models";
import { runTestsCommand } from "./commands/run-tests";
import { serveCommand } from "./commands/serve";
import { sessionsCommand } from "./commands/sessions";
import { solveCommand } from "./commands/solve";
import { verifyCommand } from "./commands/verify";

export interface Command {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

export const commands: Command[] = [
  { name: "solve", summary: "run the agent on a problem file or set:task-id, live", run: solveCommand },
  { name: "eval", summary: "multi-turn and single-turn solve rates (1@3, n@k) of a model on a set", run: evalCommand },
  { name: "verify", summary: "check every reference solution of a set through the whole pipeline", run: verifyCommand },
  { name: "run-tests", summary: "run one program against one task's tests in the sandbox", run: runTestsCommand },
  { name: "env", summary: "environment service: 'rlef env serve' (WebSocket)", run: (a) => runEnv(a) },
  { name: "serve", summary: "an OpenAI-compatible endpoint for a local ONNX model", run: (a) => serveCommand(a) },
  { name: "models", summary: "download, list, select and remove models", run: (a) => modelsCommand(a) },
  { name: "sessions", summary: "what the opt-in session log holds; clear it", run: (a) => sessionsCommand(a) },
];

async function runEnv(argv: string[]): Promise<number> {
  if (argv[0] !== "serve") {
    process.stderr.write("usage: rlef env serve [options]   (run 'rlef env serve --help' for options)\n");
    return argv[0] === "--help" || argv[0] === "-h" ? 0 : 2;
  }
  return envServeCommand(argv.slice(1));
}

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 8);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `usage: rlef <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nRun 'rlef <command> --help' for a command's options.\n`;
}
