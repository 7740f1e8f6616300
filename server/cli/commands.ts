// The table of `rlef` subcommands. Each command parses its own arguments.
export interface Command {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

export const commands: Command[] = [];

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 8);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `usage: rlef <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nRun 'rlef <command> --help' for a command's options.\n`;
}
