/**
 * The command line split into a command, its arguments and options, with messages of our own:
 * node's are long, and some would repeat a value given to an unknown option.
 * @module
 */
import { parseArgs } from "node:util";

/** One option of a command or of the program. */
export interface OptionSpec {
  type: "string" | "boolean";
  /** A one-letter alias, as in `-c`. */
  short?: string;
  /** The name of the value in the usage, as in `--config FILE`; string options only. */
  valueName?: string;
  /** One line for the usage. */
  description: string;
}

/** Options by long name. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** What an option was given: a string option's value, or `true` for a flag. */
export type OptionValues = Readonly<Record<string, string | true>>;

/** A mistake in the command line: exit code 2, with a pointer to `--help`. */
export class UsageError extends Error {
  /** The command whose usage would help, if there is one. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** The command line, split; the command is the first argument that is not an option. */
export interface CommandLine {
  command: string | undefined;
  /** The arguments after the command. */
  args: string[];
  values: OptionValues;
}

/**
 * Splits `argv`. Options may come before or after the command; an option name means the same in
 * every command, so `known` (all options of all commands) tells which ones take a value.
 * `allowed` then says which options the command found accepts.
 * @throws {UsageError} for an unknown option, a missing value, or a value given to a flag.
 */
export function splitCommandLine(
  argv: readonly string[],
  known: OptionSpecs,
  allowed: (command: string | undefined) => OptionSpecs,
): CommandLine {
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      Object.entries(known).map(([name, spec]) => [
        name,
        spec.short ? { type: spec.type, short: spec.short } : { type: spec.type },
      ]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const positionals = tokens.flatMap((t) => (t.kind === "positional" ? [t.value] : []));
  const [command, ...args] = positionals;
  const specs = allowed(command);
  const values: Record<string, string | true> = {};
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    // rawName only: the value of an unknown option may be a secret typed in the wrong place.
    if (!spec) throw new UsageError(`unknown option ${token.rawName}`, command);
    const long = `--${token.name}`;
    if (spec.type === "boolean") {
      if (token.value !== undefined) throw new UsageError(`option ${long} takes no value`, command);
      values[token.name] = true;
      continue;
    }
    if (token.value === undefined) throw new UsageError(`option ${long} needs a value`, command);
    // Without strict parsing, `--config --help` would read "--help" as the file.
    if (!token.inlineValue && token.value.startsWith("-") && token.value !== "-") {
      throw new UsageError(
        `option ${long} needs a value (write ${long}=VALUE for a value that starts with -)`,
        command,
      );
    }
    values[token.name] = token.value;
  }
  return { command, args, values };
}
