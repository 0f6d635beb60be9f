/**
 * The default error classifier: what an operation's error means for the credential that ran it,
 * and whether the request fails over to another credential.
 * @module
 */
import { systemClock } from "../clock.js";
import type { FailureKind } from "../events.js";
import { retryAfterFromError } from "./retry-after.js";

/**
 * What the manager does with an error.
 * - `refresh`: force a refresh of this credential's token and retry it once (a 401).
 * - `cooldown`: rate limited; the credential rests until `retryAfterMs` (else its backoff step)
 *   and the request moves to the next credential at once.
 * - `backoff`: a failure of this credential; backoff, then the next credential.
 * - `rethrow`: the request's own fault; no failover, no penalty, the error is rethrown as is.
 */
export type ErrorAction = "refresh" | "cooldown" | "backoff" | "rethrow";

/** The verdict on one error. */
export interface ErrorClassification {
  action: ErrorAction;
  /**
   * Why the credential is penalised. Meaningless for `rethrow`, which penalises nothing (the
   * default classifier then says `"network"`).
   */
  kind: FailureKind;
  /** The HTTP status, when the error carried one. */
  status?: number;
  /** How long the server asked us to wait, in milliseconds (Retry-After). */
  retryAfterMs?: number;
}

const TIMEOUT_CODES = new Set(["ETIMEDOUT", "ESOCKETTIMEDOUT"]);
// undici: UND_ERR_CONNECT_TIMEOUT, UND_ERR_HEADERS_TIMEOUT, UND_ERR_BODY_TIMEOUT.
const UNDICI_TIMEOUT = /^UND_ERR_[A-Z_]*TIMEOUT$/;
const STATUS_TEXT = /^\s*\d{3}\s*$/;
/** How deep to follow `cause` looking for a timeout (fetch wraps undici's error in a TypeError). */
const MAX_CAUSE_DEPTH = 4;
/**
 * Errors a program raises on its own bugs. Thrown by an operation (parsing a response that is not
 * what it expects, a typo), they say nothing about the credential: every credential would fail
 * the same way, so failing over would only put the whole pool into backoff.
 */
const PROGRAMMING_ERRORS = new Set(["TypeError", "ReferenceError", "SyntaxError", "RangeError"]);
/** What undici and browsers' fetch say for a network failure, which they raise as a TypeError. */
const FETCH_FAILURE = /^(fetch failed|failed to fetch|network ?error|terminated|load failed)/i;

/**
 * The HTTP status an error carries: `err.status`, `err.statusCode`, `err.response.status` or
 * `err.response.statusCode`, the first that is an integer in 100..599 (a numeric string such as
 * `"429"` counts). Never throws.
 *
 * @example statusOf({ response: { status: 503 } }) // 503
 */
export function statusOf(err: unknown): number | undefined {
  try {
    if (!isObject(err)) return undefined;
    const response = get(err, "response");
    const candidates = [get(err, "status"), get(err, "statusCode")];
    if (isObject(response)) candidates.push(get(response, "status"), get(response, "statusCode"));
    for (const c of candidates) {
      const n = typeof c === "string" && STATUS_TEXT.test(c) ? Number(c) : c;
      if (typeof n === "number" && Number.isInteger(n) && n >= 100 && n <= 599) return n;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * The default classifier (`options.classifyError`).
 *
 * | error | action | kind |
 * | --- | --- | --- |
 * | 401 | `refresh` | `auth` |
 * | 403 | `backoff` | `auth` |
 * | 429 | `cooldown` (+ `retryAfterMs` when given) | `rate_limit` |
 * | 408 | `backoff` | `timeout` |
 * | 5xx | `backoff` (+ `retryAfterMs` on a 503 that gives one) | `server` |
 * | other 4xx (400, 404, 413, 422 …) | `rethrow` | `network` (unused) |
 * | no status: `TimeoutError`, `AbortError`, `ETIMEDOUT`, `UND_ERR_*_TIMEOUT` | `backoff` | `timeout` |
 * | no status: a programming error (`TypeError`, `ReferenceError`, `SyntaxError`, `RangeError`) that is not a network failure | `rethrow` | `network` (unused) |
 * | no status: anything else (`fetch failed`, `ECONNRESET`, a plain `Error`, non-errors) | `backoff` | `network` |
 *
 * A `TypeError` is a network failure when it has a `code` or a `cause` with one (`ECONNRESET`,
 * `ECONNREFUSED`, `UND_ERR_SOCKET` …), or says what fetch says when the network fails
 * (`fetch failed`).
 *
 * An `AbortError` is taken as an internal timeout: the manager checks the caller's own signal
 * before it asks the classifier, so a caller's abort never gets here. A status outside 400..599
 * is ignored. Never throws, whatever it is given.
 *
 * @param err Anything an operation threw.
 * @param now The current time (epoch ms) for a Retry-After HTTP-date. @default Date.now()
 */
export function classifyError(err: unknown, now: number = systemClock()): ErrorClassification {
  try {
    const status = statusOf(err);
    if (status !== undefined && status >= 400) return byStatus(err, status, now);
    if (isTimeout(err)) return { action: "backoff", kind: "timeout" };
    if (isProgrammingError(err)) return { action: "rethrow", kind: "network" };
    return { action: "backoff", kind: "network" };
  } catch {
    return { action: "backoff", kind: "network" };
  }
}

function byStatus(err: unknown, status: number, now: number): ErrorClassification {
  if (status === 401) return { action: "refresh", kind: "auth", status };
  // A forbidden credential (revoked, suspended, no access to the model) fails the same way for
  // every request: fail over and back off. It does not spend a refresh: a 403 is not cured by a
  // new token, and spending a rotating refresh token on it risks the token family for nothing.
  if (status === 403) return { action: "backoff", kind: "auth", status };
  if (status === 429)
    return withRetryAfter({ action: "cooldown", kind: "rate_limit", status }, err, now);
  if (status === 408) return { action: "backoff", kind: "timeout", status };
  if (status >= 500) {
    const c: ErrorClassification = { action: "backoff", kind: "server", status };
    return status === 503 ? withRetryAfter(c, err, now) : c;
  }
  return { action: "rethrow", kind: "network", status };
}

function withRetryAfter(c: ErrorClassification, err: unknown, now: number): ErrorClassification {
  const ms = retryAfterFromError(err, now);
  if (ms !== undefined) c.retryAfterMs = ms;
  return c;
}

function isTimeout(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && isObject(e); depth++) {
    const name = get(e, "name");
    if (name === "TimeoutError" || name === "AbortError") return true;
    const code = get(e, "code");
    if (typeof code === "string" && (TIMEOUT_CODES.has(code) || UNDICI_TIMEOUT.test(code))) {
      return true;
    }
    e = get(e, "cause");
  }
  return false;
}

function isProgrammingError(err: unknown): boolean {
  if (!(err instanceof Error) || !PROGRAMMING_ERRORS.has(get(err, "name") as string)) return false;
  if (get(err, "name") !== "TypeError") return true;
  // fetch reports every network failure as a TypeError: look for the system error under it.
  let e: unknown = err;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && isObject(e); depth++) {
    if (typeof get(e, "code") === "string" || typeof get(e, "errno") === "number") return false;
    e = get(e, "cause");
  }
  const message = get(err, "message");
  return !(typeof message === "string" && FETCH_FAILURE.test(message));
}

function isObject(v: unknown): v is object {
  return (typeof v === "object" && v !== null) || typeof v === "function";
}

function get(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}
