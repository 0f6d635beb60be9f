/**
 * Naming a provider or a credential on the command line: an unknown name is one line with the
 * known ones and a "did you mean".
 * @module
 */
import { closest } from "../suggest.js";

/** A name the configuration does not know: exit code 1 with one line. */
export class UnknownNameError extends Error {
  override name = "UnknownNameError";
}

/**
 * `name` when it is among `known`.
 * @throws {UnknownNameError} naming what was expected
 */
export function pick(kind: string, name: string, known: readonly string[], where: string): string {
  if (known.includes(name)) return name;
  const guess = closest(name, known);
  const hint = guess ? ` (did you mean "${guess}"?)` : "";
  const list = known.length > 0 ? `; ${where} has: ${known.join(", ")}` : `; ${where} has none`;
  throw new UnknownNameError(`no ${kind} named "${name}"${hint}${list}`);
}
