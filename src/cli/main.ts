/**
 * The `oauthmanager` command: the command line in, an exit code out. Commands are entries of a
 * table, each with its own options and usage, so that a new one needs no change to the parsing.
 * `validate` (or `check`), `status`, `refresh`, `import`, `login`, and `serve`: the gateway.
 * @module
 */
import { readFileSync } from "node:fs";
import { type OptionSpecs, splitCommandLine, UsageError } from "./args.js";
import { type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Output } from "./command.js";
import { demoCommand } from "./demo.js";
import { importCommand } from "./import.js";
import { loginCommand } from "./login.js";
import { refreshCommand } from "./refresh.js";
import { reportFailure } from "./report.js";
import { serveCommand } from "./serve.js";
import { statusCommand } from "./status.js";
import { commandUsage, programUsage } from "./usage.js";
import { validateCommand } from "./validate.js";

const COMMANDS: readonly Command[] = [
  validateCommand,
  statusCommand,
  refreshCommand,
  importCommand,
  loginCommand,
  serveCommand,
  demoCommand,
];

/** Options every command takes. */
const GLOBAL_OPTIONS: OptionSpecs = {
  help: { type: "boolean", short: "h", description: "show this text" },
  version: { type: "boolean", description: "print the version" },
};

const ALL_OPTIONS: OptionSpecs = Object.assign(
  {},
  GLOBAL_OPTIONS,
  ...COMMANDS.map((c) => c.options),
);

const findCommand = (name: string | undefined) =>
  COMMANDS.find((c) => c.name === name || (name !== undefined && c.aliases?.includes(name)));

/**
 * Runs the CLI with `argv` (without node and the script).
 * @param out Writes a line to stdout. @default process.stdout
 * @param err Writes a line to stderr. @default process.stderr
 * @returns The exit code: 0 success, 1 the command failed (an invalid configuration), 2 a usage
 *   error (an unknown command or option, a missing argument).
 */
export async function main(
  argv: readonly string[],
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  const output: Output = { out, err };
  try {
    return await dispatch(argv, output);
  } catch (e) {
    if (e instanceof UsageError) {
      const help = e.command && findCommand(e.command) ? `${e.command} --help` : "--help";
      err(`oauthmanager: ${e.message}`);
      err(`Run "oauthmanager ${help}" for usage.`);
      return EXIT_USAGE;
    }
    // A configuration error lists one issue per line: each indented under the first.
    reportFailure(e, output);
    return EXIT_FAILURE;
  }
}

async function dispatch(argv: readonly string[], output: Output): Promise<number> {
  const {
    command: name,
    args,
    values,
  } = splitCommandLine(argv, ALL_OPTIONS, (found) => ({
    ...findCommand(found)?.options,
    ...GLOBAL_OPTIONS,
  }));
  const command = findCommand(name);
  if (name !== undefined && name !== "help" && !command) throw unknownCommand(name);
  if (values.version) {
    output.out(version());
    return EXIT_OK;
  }
  if (name === "help") {
    if (args.length > 1) throw new UsageError(`help takes one COMMAND, got ${args.length}`);
    const topic = args[0] === undefined ? undefined : findCommand(args[0]);
    if (args[0] !== undefined && !topic) throw unknownCommand(args[0]);
    output.out(usage(topic));
    return EXIT_OK;
  }
  if (!command || values.help) {
    output.out(usage(command));
    return EXIT_OK;
  }
  return command.run(args, values, output);
}

/** The help of a command, or of the program. */
const usage = (command: Command | undefined) =>
  command ? commandUsage(command, GLOBAL_OPTIONS) : programUsage(COMMANDS, GLOBAL_OPTIONS);

/** Names shown back in a message; anything else may be a secret pasted in the wrong place. */
const SHOWN_NAME = /^[A-Za-z][\w-]{0,23}$/;

function unknownCommand(name: string): UsageError {
  return new UsageError(SHOWN_NAME.test(name) ? `unknown command "${name}"` : "unknown command");
}

/** The version in package.json, found next to this module in src/ and in dist/ alike. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
