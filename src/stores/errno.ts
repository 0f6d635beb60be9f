/**
 * Reading Node's system errors, which carry their kind only as a string `code` (`ENOENT`…).
 * @module
 */

/** The `code` of a Node system error (`"ENOENT"`, `"ELOCKED"`…), or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
