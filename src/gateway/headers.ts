/**
 * Which headers cross the gateway: hop-by-hop fields stay on their own connection (RFC 9110
 * §7.6.1), the client's key never goes upstream, and the upstream's cookies for a pooled account
 * never reach a client.
 * @module
 */
import type { IncomingHttpHeaders } from "node:http";
import { CLIENT_KEY_HEADERS } from "./client-keys.js";

/** Connection-specific fields, plus the framing and host that are set anew on the next hop. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
  "expect",
]);

/** A `Connection` value that names nothing beyond the fields dropped in any case. */
const HOP_BY_HOP_ALONE: ReadonlySet<string> = new Set(["keep-alive", "close"]);

const NOT_FORWARDED: ReadonlySet<string> = new Set([...HOP_BY_HOP, ...CLIENT_KEY_HEADERS]);

/** Response fields not passed back: hop-by-hop ones, and an upstream session for a pooled account. */
const NOT_RETURNED: ReadonlySet<string> = new Set([...HOP_BY_HOP, "set-cookie"]);

/**
 * Names a `Connection` header lists: hop-by-hop for this message too. Nearly every message says
 * just `keep-alive` or `close`, which are dropped anyway: no set is built for those, and as
 * nearly every sender writes them in lower case, they are looked up as they are before lowered.
 */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value === "string" &&
    (HOP_BY_HOP_ALONE.has(value) || HOP_BY_HOP_ALONE.has(value.toLowerCase()))
  ) {
    return undefined;
  }
  const listed = (Array.isArray(value) ? value.join(",") : value)
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return listed.length === 0 ? undefined : new Set(listed);
}

/** `headers` without the names in `dropped` and those their own `Connection` header lists. */
function without(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  dropped: ReadonlySet<string>,
): Record<string, string | string[]> {
  const listed = connectionListed(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || dropped.has(name) || listed?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** The client's headers as they go upstream: no hop-by-hop field, no client key. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
): Record<string, string | string[]> {
  return without(incoming, NOT_FORWARDED);
}

/** The upstream's response headers as they go to the client. */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const out = without(upstream, NOT_RETURNED);
  const length = upstream["content-length"];
  if (typeof length === "string" && upstream["transfer-encoding"] === undefined) {
    out["content-length"] = length;
  }
  return out;
}
