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

  /**
   * Whether any key the request presents is one of these. Every key is compared, always.
   * @param memo the connection's record of what this ring last accepted on it: a request that
   *   presents the very same key headers again is accepted without a digest. Comparing with
   *   them may take longer the more of them a guess gets right, but only a request on the same
   *   connection can time that, and that connection has shown the key already.
   */
  accepts(headers: IncomingHttpHeaders, memo?: KeyMemo): boolean {
    const seen = memo?.accepted;
    if (
      seen?.ring === this &&
      headers.authorization === seen.authorization &&
      headers["x-api-key"] === seen.xApiKey &&
      headers["x-goog-api-key"] === seen.xGoogApiKey
    ) {
      return true;
    }
    let found = false;
    for (const presented of presentedKeys(headers)) {
      const d = digest(presented);
      for (const known of this.#digests) {
        // No early exit: the time says nothing about which key matched.
        if (timingSafeEqual(d, known)) found = true;
      }
    }
    if (found && memo !== undefined) {
      memo.accepted = {
        ring: this,
        authorization: headers.authorization,
        xApiKey: headers["x-api-key"],
        xGoogApiKey: headers["x-goog-api-key"],
      };
    }
    return found;
  }
}

/** Where a connection keeps the key headers a ring accepted on it last. */
export interface KeyMemo {
  accepted:
    | {
        readonly ring: KeyRing;
        readonly authorization: string | undefined;
        readonly xApiKey: string | string[] | undefined;
        readonly xGoogApiKey: string | string[] | undefined;
      }
    | undefined;
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
