/**
 * A token as `RedisTokenStore` keeps it: the JSON of one `FileTokenStore` entry (snake_case,
 * RFC 3339 dates), so both stores read the same shape. The version lives beside it in the hash,
 * where the save script can compare and increment it.
 * @module
 */

import { fromWire, toWire, wireToken } from "../file-format.js";
import type { StoredToken } from "../types.js";

/** The JSON text stored for `token` (without its version), stamped with when it was written. */
export function encodeToken(token: StoredToken, now: Date): string {
  const { version: _ignored, ...rest } = token;
  return JSON.stringify(toWire({ token: rest, updatedAt: now.toISOString() }));
}

/**
 * The token stored as `data` with version `v`.
 * @returns the token, or a description of what is wrong that quotes no value (tokens are secret)
 */
export function decodeToken(data: string, v: string): { token: StoredToken } | { problem: string } {
  const version = Number(v);
  if (!Number.isSafeInteger(version) || version < 0) {
    return { problem: "its version is not an integer >= 0" };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    // The parser's message may quote the text, which holds tokens.
    return { problem: "its data is not valid JSON" };
  }
  const checked = wireToken.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const where = issue?.path.map(String).join(".") || "(top)";
    return { problem: `its data is invalid at ${where}: ${issue?.message ?? "unknown"}` };
  }
  const { token } = fromWire(checked.data);
  token.version = version;
  return { token };
}
