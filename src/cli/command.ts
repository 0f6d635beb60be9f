/**
 * What a command of the `oauthmanager` program is: its usage, its options and what it runs.
 * @module
 */
import type { OptionSpecs, OptionValues } from "./args.js";

/** Where a command writes, one line at a time; tests capture it. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** Exit codes: success, a failure of the work itself, and a mistake in the command line. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** One command of the program. */
export interface Command {
  name: string;
  /** Other names the command answers to, as `check` for `validate`. */
  aliases?: readonly string[];
  /** What follows the command's name in its usage line, as in `[--config] FILE`. */
  args: string;
  /** One line for the list of commands. */
  summary: string;
  options: OptionSpecs;
  /**
   * Runs the command with its arguments and options.
   * @returns the exit code
   * @throws {UsageError} when the arguments do not fit
   */
  run(args: readonly string[], values: OptionValues, output: Output): Promise<number>;
}
