/**
 * The keys clients present to the gateway: where they are read from, and a check whose time does
 * not depend on how much of a guess was right.
 * @module
 */
import { hash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** The headers a client's SDK may carry its key in; none of them is ever forwarded. */
export const CLIENT_KEY_HEADERS = ["authorization", "x-api-key", "x-goog-api-key"] as const;

const BEARER = /^\s*Bearer\s+(\S+)\s*$/i;

/** A set of keys, kept as SHA-256 digests: equal lengths, so every comparison takes the same time. */
export class KeyRing {
  readonly #digests: readonly Buffer[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map(digest);
  }

  get size(): number {
    return this.#digests.length;
  }

  /** Whether any key the request presents is one of these. Every key is compared, always. */
  accepts(headers: IncomingHttpHeaders): boolean {
    let found = false;
    for (const presented of presentedKeys(headers)) {
      const d = digest(presented);
      for (const known of this.#digests) {
        // No early exit: the time says nothing about which key matched.
        if (timingSafeEqual(d, known)) found = true;
      }
    }
    return found;
  }
}

function digest(key: string): Buffer {
  // One call, no Hash object: a digest per request is on every proxied request's path.
  return hash("sha256", key, "buffer");
}

/** The keys a request presents: a Bearer token, `x-api-key`, `x-goog-api-key`. */
function presentedKeys(headers: IncomingHttpHeaders): string[] {
  const keys: string[] = [];
  const bearer = BEARER.exec(headers.authorization ?? "")?.[1];
  if (bearer !== undefined) keys.push(bearer);
  for (const name of ["x-api-key", "x-goog-api-key"] as const) {
    const value = headers[name];
    if (typeof value === "string" && value !== "") keys.push(value.trim());
  }
  return keys;
}
