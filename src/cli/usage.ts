/**
 * The help texts: the program's, listing commands and options, and each command's.
 * @module
 */
import type { OptionSpec, OptionSpecs } from "./args.js";
import type { Command } from "./command.js";

const PROGRAM = "oauthmanager";

/** Two columns: what to type, then what it does, aligned. */
function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`);
}

function optionRows(options: OptionSpecs): [string, string][] {
  return Object.entries(options).map(([name, spec]: [string, OptionSpec]) => {
    const names = spec.short ? `-${spec.short}, --${name}` : `--${name}`;
    const value = spec.type === "string" ? ` ${spec.valueName ?? "VALUE"}` : "";
    return [`${names}${value}`, spec.description];
  });
}

/** The program's help: every command and the options every command takes. */
export function programUsage(commands: readonly Command[], globalOptions: OptionSpecs): string {
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    "",
    "Commands:",
    ...table([
      ...commands.map((c): [string, string] => [`${c.name} ${c.args}`, c.summary]),
      ["help [COMMAND]", "show this text, or a command's options"],
    ]),
    "",
    "Options:",
    ...table(optionRows(globalOptions)),
    "",
    `Run "${PROGRAM} <command> --help" for a command's options.`,
  ].join("\n");
}

/** A command's help: its usage line, what it does and its options. */
export function commandUsage(command: Command, globalOptions: OptionSpecs): string {
  return [
    `Usage: ${PROGRAM} ${command.name} ${command.args}`,
    "",
    `${command.summary[0]?.toUpperCase()}${command.summary.slice(1)}.`,
    "",
    "Options:",
    ...table(optionRows({ ...command.options, ...globalOptions })),
  ].join("\n");
}
