/**
 * What the status page writes in its cells, from the `/status` JSON and the server's clock. Pure
 * functions, tested in Node and run in the browser: the page embeds their source text. So each
 * stands alone, calling only the language's built-ins and one another, never an import (a test
 * runner rewrites those calls) or a module-level constant. Values come straight from parsed
 * JSON, hence `unknown`: a field that is missing or of the wrong type shows as a dash.
 * @module
 */

/** How the page tells a state: colour backs up the text, never replaces it. */
export type Tone = "ok" | "warn" | "bad" | "none";

/** An RFC 3339 time of the wire in epoch milliseconds; `undefined` when absent or unreadable. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * Server clock minus browser clock, from a snapshot's `generated_at` and when it arrived: added
 * to the browser's `Date.now()`, countdowns run on the server's time, so a browser whose clock is
 * wrong still shows the truth. 0 when the time is unreadable.
 */
export function clockOffset(generatedAt: unknown, receivedAt: number): number {
  const server = parseTime(generatedAt);
  return server === undefined ? 0 : server - receivedAt;
}

/**
 * The state a credential's badge shows: `"disabled"` when an operator took it out of the pool
 * (`disabled: true`, which the gateway adds), else its health state.
 */
export function shownState(credential: Record<string, unknown>): unknown {
  return credential.disabled === true ? "disabled" : credential.state;
}

/** The label of a credential state; a state this page does not know shows as it came. */
export function stateLabel(state: unknown): string {
  switch (state) {
    case "disabled":
      return "Disabled";
    case "healthy":
      return "Healthy";
    case "cooling":
      return "Cooling down";
    case "unhealthy":
      return "Unhealthy";
    case "needs_reauth":
      return "Needs re-auth";
  }
  return typeof state === "string" && state.trim() !== "" ? state.replaceAll("_", " ") : "Unknown";
}

/** The colour that goes with a state's label. */
export function stateTone(state: unknown): Tone {
  switch (state) {
    case "healthy":
      return "ok";
    case "cooling":
      return "warn";
    case "unhealthy":
    case "needs_reauth":
      return "bad";
  }
  return "none";
}

/**
 * A duration in its two largest units, the smaller one padded so that a ticking countdown keeps
 * its width: `"45s"`, `"3m 05s"`, `"2h 04m"`, `"3d 4h"`. Whole seconds, rounded down.
 */
export function durationText(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86_400);
  const hours = Math.floor(total / 3_600) % 24;
  const minutes = Math.floor(total / 60) % 60;
  const seconds = total % 60;
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, "0")}m`;
  if (minutes > 0) return `${minutes}m ${String(seconds).padStart(2, "0")}s`;
  return `${seconds}s`;
}

/** Time left in a backoff (`"12s left"`), `"ended"` once past, `"—"` when there is none. */
export function backoffText(backoffUntil: unknown, now: number): string {
  const until = parseTime(backoffUntil);
  if (until === undefined) return "—";
  const left = until - now;
  // Rounded up: a countdown that shows 0s while the backoff still holds would be a lie.
  return left > 0 ? `${durationText(Math.ceil(left / 1000) * 1000)} left` : "ended";
}

/** A token's expiry: `"in 54m 12s"`, `"expired 3m 10s ago"`, `"—"` when none (an API key). */
export function expiryText(expiresAt: unknown, now: number): string {
  const at = parseTime(expiresAt);
  if (at === undefined) return "—";
  const left = at - now;
  return left > 0
    ? `in ${durationText(Math.ceil(left / 1000) * 1000)}`
    : `expired ${durationText(-left)} ago`;
}

/** `"bad"` once expired, `"warn"` in its last five minutes (a refresh should have come), else `"ok"`. */
export function expiryTone(expiresAt: unknown, now: number): Tone {
  const at = parseTime(expiresAt);
  if (at === undefined) return "none";
  if (at <= now) return "bad";
  return at - now <= 5 * 60_000 ? "warn" : "ok";
}

/** A count with thousands separators: `"12,345"`. */
export function countText(value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return Math.round(value).toLocaleString("en-US");
}

/**
 * A success rate in [0, 1] as a percentage, `"—"` before the first request (the wire says 1
 * then). Rounded down, so that a single failure never shows as 100%.
 */
export function rateText(rate: unknown, requests: unknown): string {
  if (typeof rate !== "number" || !Number.isFinite(rate)) return "—";
  if (typeof requests !== "number" || !(requests > 0)) return "—";
  // The epsilon keeps 0.995 (994.9999… in binary) at 99.5%.
  const tenths = Math.floor(Math.min(1, Math.max(0, rate)) * 1000 + 1e-6);
  if (tenths === 1000) return "100%";
  if (tenths === 0) return "0%";
  return `${(tenths / 10).toFixed(1)}%`;
}

/** A latency in milliseconds: `"<1 ms"`, `"85 ms"`, `"1.25 s"`; `"—"` before the first request. */
export function latencyText(ms: unknown, requests: unknown): string {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return "—";
  if (typeof requests !== "number" || !(requests > 0)) return "—";
  if (ms < 1) return "<1 ms";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/**
 * A provider's line above its table, from its `/status` summary:
 * `"2 of 3 healthy · 1 unavailable · 1,234 requests · 99.5% success"`.
 */
export function summaryText(summary: Record<string, unknown>): string {
  const total = summary.total_credentials;
  const parts = [
    `${countText(summary.healthy_credentials)} of ${countText(total)} healthy`,
    `${countText(summary.credentials_in_backoff)} unavailable`,
  ];
  const requests = summary.total_requests;
  if (requests === 0) parts.push("no requests yet");
  else {
    parts.push(`${countText(requests)} ${requests === 1 ? "request" : "requests"}`);
    parts.push(`${rateText(summary.success_rate, requests)} success`);
  }
  return parts.join(" · ");
}

/**
 * The notes under a credential's state: its failures in a row, failed refreshes, and whether it
 * is being rotated out; `""` when there is nothing to note.
 */
export function stateNote(credential: Record<string, unknown>): string {
  const notes: string[] = [];
  const failures = credential.failure_count;
  if (typeof failures === "number" && failures > 0) {
    notes.push(`${countText(failures)} ${failures === 1 ? "failure" : "failures"}`);
  }
  const refreshFailures = credential.refresh_fail_count;
  if (typeof refreshFailures === "number" && refreshFailures > 0) {
    notes.push(
      `${countText(refreshFailures)} failed ${refreshFailures === 1 ? "refresh" : "refreshes"}`,
    );
  }
  if (credential.marked_for_rotation === true) notes.push("rotating out");
  return notes.join(" · ");
}

/**
 * Reads the client key from a URL fragment such as `#key=abc&x=1`, and the fragment to keep
 * without it. Decoded as a URI component, not as a form: a `+` in a key stays a `+`.
 */
export function splitKeyFragment(hash: string): { key: string | undefined; rest: string } {
  let key: string | undefined;
  const rest: string[] = [];
  for (const part of hash.replace(/^#/, "").split("&")) {
    if (!part.startsWith("key=")) {
      if (part !== "") rest.push(part);
      continue;
    }
    const raw = part.slice(4);
    try {
      key = decodeURIComponent(raw);
    } catch {
      key = raw;
    }
  }
  return { key: key === "" ? undefined : key, rest: rest.join("&") };
}

/** How long ago a snapshot was taken, on the server's clock: `"25s ago"`, `"just now"`. */
export function agoText(generatedAt: unknown, now: number): string {
  const at = parseTime(generatedAt);
  if (at === undefined) return "—";
  return now - at < 1000 ? "just now" : `${durationText(now - at)} ago`;
}
