/**
 * The webhook JSON body, a documented contract that receivers parse: snake_case keys and RFC 3339
 * UTC timestamps.
 * @module
 */
import { messageOf } from "../errors.js";
import { type SecretFinder, secretFinder } from "../redact.js";
import type { WebhookEvent, WebhookEventType } from "../types.js";

/** A {@link WebhookEvent} on the wire. */
export interface WireEvent {
  type: WebhookEventType;
  credential_id: string;
  /** RFC 3339, UTC. */
  timestamp: string;
  message: string;
  /** Plain JSON data; `{}` when the event has none. */
  details: Record<string, unknown>;
}

/** Options of {@link toWire}. */
export interface ToWireOptions {
  /**
   * Strings replaced by `[REDACTED]` wherever they appear in the message or details, encoded or
   * not (see `redactSecrets`).
   */
  secrets?: readonly (string | undefined)[];
}

// Bounds keep one body well under the 20 KB Standard Webhooks suggest, whatever `details` holds.
const MAX_DEPTH = 4;
const MAX_KEYS = 50;
const MAX_ITEMS = 50;
const MAX_STRING = 1_000;

/**
 * The JSON body of an event: `{ type, credential_id, timestamp, message, details }`.
 *
 * `details` is copied into plain JSON data: an `Error` becomes its message (with `secrets`
 * redacted), a `Date` its RFC 3339 string, a bigint a string; functions, symbols and `undefined`
 * are left out, cycles become `"[Circular]"`, and deep, wide or long values are cut short.
 * Never throws for any `details`.
 *
 * @throws {TypeError} when `event.timestamp` is not a valid `Date`.
 * @example JSON.stringify(toWire(event))
 */
export function toWire(event: WebhookEvent, opts: ToWireOptions = {}): WireEvent {
  const ts = event.timestamp;
  if (!(ts instanceof Date) || Number.isNaN(ts.getTime())) {
    throw new TypeError(`Expected \`timestamp\` to be a valid Date, got ${String(ts)}`);
  }
  const finder = secretFinder(opts.secrets ?? []);
  const details =
    event.details === undefined ? {} : plainObject(event.details, finder, 0, new WeakSet());
  return {
    type: event.type,
    credential_id: String(event.credentialId),
    timestamp: rfc3339(ts),
    message: finder.text(String(event.message)),
    details,
  };
}

/**
 * A UTC RFC 3339 timestamp, without a fraction when the milliseconds are zero:
 * `2025-01-15T10:30:00Z`, else `2025-01-15T10:30:00.250Z`.
 */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(".000Z", "Z");
}

function plainObject(
  obj: object,
  finder: SecretFinder,
  depth: number,
  seen: WeakSet<object>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  seen.add(obj);
  let n = 0;
  for (const key of safeKeys(obj)) {
    if (n >= MAX_KEYS) {
      out["…"] = "truncated";
      break;
    }
    const v = plainValue(safeGet(obj, key), key, finder, depth + 1, seen);
    if (v !== undefined) {
      out[key] = v;
      n++;
    }
  }
  seen.delete(obj);
  return out;
}

/** `key` is the name `v` is held under: a credential's name hides its value whole. */
function plainValue(
  v: unknown,
  key: string | undefined,
  finder: SecretFinder,
  depth: number,
  seen: WeakSet<object>,
): unknown {
  switch (typeof v) {
    case "string":
      return truncate(finder.value(v, key));
    case "number":
      // JSON has no NaN or Infinity; JSON.stringify would silently turn them into null.
      return Number.isFinite(v) ? v : String(v);
    case "boolean":
      return v;
    case "bigint":
      return v.toString();
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (v === null) return null;
  const obj = v as object;
  if (obj instanceof Error) return truncate(finder.text(messageOf(obj)));
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : rfc3339(obj);
  if (seen.has(obj)) return "[Circular]";
  if (depth > MAX_DEPTH) return "[Object]";
  if (Array.isArray(obj)) {
    seen.add(obj);
    const items = obj
      .slice(0, MAX_ITEMS)
      .map((item) => plainValue(item, key, finder, depth + 1, seen) ?? null);
    seen.delete(obj);
    return items;
  }
  if (obj instanceof Map || obj instanceof Set) return `[${obj.constructor.name}]`;
  return plainObject(obj, finder, depth, seen);
}

function truncate(s: string): string {
  return s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}…` : s;
}

// Getters and proxies may throw; a webhook body must still be built.
function safeKeys(obj: object): string[] {
  try {
    return Object.keys(obj);
  } catch {
    return [];
  }
}

function safeGet(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return "[Unreadable]";
  }
}
