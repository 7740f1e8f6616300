// Argument parsing shared by the `rlef` subcommands: node:util's parseArgs with positionals and -h/--help,
// and one way of answering help (usage on stdout, exit 0) and bad flags (message and usage on stderr, exit 2).
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: O }>>;

/** The parsed arguments, or the exit code to return at once (help printed, or a usage error). */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, usage: string): Parsed<O> | number {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(usage);
    return 0;
  }
  try {
    return parseArgs({ args: argv, allowPositionals: true, options });
  } catch (e) {
    process.stderr.write(`rlef ${command}: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
}
