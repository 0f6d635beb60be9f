/**
 * How a command reports a failure on stderr.
 * @module
 */
import { messageOf } from "../errors.js";
import type { Output } from "./command.js";

/** The first line of the message after the prefix, and each further line (an issue) indented. */
export function reportFailure(e: unknown, output: Output): void {
  const [first, ...rest] = messageOf(e).split("\n");
  output.err(`oauthmanager: ${first}`);
  for (const line of rest) output.err(`  ${line}`);
}
