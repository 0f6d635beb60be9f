/**
 * Refresh strategies: how long before expiry a token is refreshed. Pure functions; every time
 * comes in as an argument.
 * @module
 */
import { MAX_TIMER_DELAY_MS, systemClock } from "../clock.js";
import { describeSetting } from "../describe.js";
import type { CredentialMetrics, OAuthCredentialSet, RefreshStrategy } from "../types.js";

/**
 * The usage figures a strategy looks at. Any {@link CredentialMetrics} fits; a missing field adds
 * nothing, and `requestCount: 0` means "no usage yet" (nothing adaptive applies).
 */
export type MetricsForStrategy = Partial<
  Pick<CredentialMetrics, "averageLatency" | "requestsPerHour" | "successRate" | "requestCount">
>;

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

/**
 * Refresh 5 minutes before expiry, nothing adaptive.
 * `{ bufferTime: 5 min, adaptiveBuffer: false, minBuffer: 1 min, maxBuffer: 15 min,
 * preemptiveRefresh: false, highTrafficThreshold: 100 }`. A fresh object on every call.
 */
export function defaultRefreshStrategy(): RefreshStrategy {
  return {
    bufferTime: 5 * MINUTE,
    adaptiveBuffer: false,
    minBuffer: 1 * MINUTE,
    maxBuffer: 15 * MINUTE,
    preemptiveRefresh: false,
    highTrafficThreshold: 100,
  };
}

/** {@link defaultRefreshStrategy} with the adaptive buffer and preemptive refresh on. */
export function adaptiveRefreshStrategy(): RefreshStrategy {
  return { ...defaultRefreshStrategy(), adaptiveBuffer: true, preemptiveRefresh: true };
}

/**
 * Refresh early: `{ bufferTime: 15 min, adaptiveBuffer: false, minBuffer: 10 min,
 * maxBuffer: 30 min, preemptiveRefresh: true, highTrafficThreshold: 50 }`.
 */
export function conservativeRefreshStrategy(): RefreshStrategy {
  return {
    bufferTime: 15 * MINUTE,
    adaptiveBuffer: false,
    minBuffer: 10 * MINUTE,
    maxBuffer: 30 * MINUTE,
    preemptiveRefresh: true,
    highTrafficThreshold: 50,
  };
}

const DURATIONS = ["bufferTime", "minBuffer", "maxBuffer"] as const;
const FLAGS = ["adaptiveBuffer", "preemptiveRefresh"] as const;

/**
 * Checks a strategy and returns a fresh copy holding only its six fields, so a bad value fails
 * here with its name rather than later as a refresh at the wrong time.
 * Durations must be finite milliseconds in [0, 2^31−1] (a longer one cannot reach a timer);
 * `0` for `minBuffer`/`maxBuffer` means "no bound".
 *
 * @param strategy The value to check.
 * @param path How to name it in messages. @default "refreshStrategy"
 * @throws {TypeError} when it is not an object or a field has the wrong type.
 * @throws {RangeError} for a negative, NaN, infinite or too large duration or threshold, or a
 *   `minBuffer` above a non-zero `maxBuffer`.
 */
export function validateRefreshStrategy(
  strategy: unknown,
  path = "refreshStrategy",
): RefreshStrategy {
  if (typeof strategy !== "object" || strategy === null) {
    throw new TypeError(`Expected \`${path}\` to be an object, got ${describeSetting(strategy)}`);
  }
  const s = strategy as Record<string, unknown>;
  for (const key of DURATIONS) {
    const v = s[key];
    if (typeof v !== "number") {
      throw new TypeError(
        `Expected \`${path}.${key}\` to be milliseconds, got ${describeSetting(v)}`,
      );
    }
    if (!Number.isFinite(v) || v < 0 || v > MAX_TIMER_DELAY_MS) {
      throw new RangeError(
        `Expected \`${path}.${key}\` to be milliseconds in [0, ${MAX_TIMER_DELAY_MS}], got ${v}`,
      );
    }
  }
  for (const key of FLAGS) {
    if (typeof s[key] !== "boolean") {
      throw new TypeError(
        `Expected \`${path}.${key}\` to be a boolean, got ${describeSetting(s[key])}`,
      );
    }
  }
  const threshold = s.highTrafficThreshold;
  if (typeof threshold !== "number") {
    throw new TypeError(
      `Expected \`${path}.highTrafficThreshold\` to be requests per hour, got ${describeSetting(threshold)}`,
    );
  }
  if (!Number.isFinite(threshold) || threshold < 0) {
    throw new RangeError(
      `Expected \`${path}.highTrafficThreshold\` to be a finite number >= 0, got ${threshold}`,
    );
  }
  const out: RefreshStrategy = {
    bufferTime: s.bufferTime as number,
    adaptiveBuffer: s.adaptiveBuffer as boolean,
    minBuffer: s.minBuffer as number,
    maxBuffer: s.maxBuffer as number,
    preemptiveRefresh: s.preemptiveRefresh as boolean,
    highTrafficThreshold: threshold,
  };
  if (out.maxBuffer > 0 && out.minBuffer > out.maxBuffer) {
    throw new RangeError(
      `Expected \`${path}.minBuffer\` (${out.minBuffer}) to be <= \`${path}.maxBuffer\` (${out.maxBuffer})`,
    );
  }
  return out;
}

/**
 * How long before expiry to refresh, in milliseconds, before any preemptive doubling.
 *
 * Without `adaptiveBuffer` this is `bufferTime`. With it: `bufferTime`
 * + 30 s per 100 ms of average latency
 * + 30 s per 10 requests/hour above 10 requests/hour
 * + 60 s × 10 × (0.95 − successRate) when successRate < 0.95,
 * each term cut to whole seconds, then clamped to
 * [`minBuffer`, `maxBuffer`] (a bound of 0 is no bound). Without metrics, or with
 * `requestCount: 0`, the usage terms add nothing (the clamp still applies).
 *
 * @example
 * // 5 min + 250 ms latency (75 s) + 45 req/h (105 s) + 80 % success (90 s) = 570 s
 * calculateBufferTime(adaptiveRefreshStrategy(), { averageLatency: 250, requestsPerHour: 45, successRate: 0.8 }) // 570_000
 */
export function calculateBufferTime(
  strategy: RefreshStrategy,
  metrics?: MetricsForStrategy,
): number {
  if (!strategy.adaptiveBuffer) return strategy.bufferTime;
  let buffer = strategy.bufferTime;
  if (hasUsage(metrics)) {
    const latency = finite(metrics.averageLatency);
    if (latency > 0) buffer += wholeSeconds((latency / 100) * 30 * SECOND);
    const rph = finite(metrics.requestsPerHour);
    if (rph > 10) buffer += wholeSeconds(((rph - 10) / 10) * 30 * SECOND);
    const rate = metrics.successRate;
    if (typeof rate === "number" && Number.isFinite(rate) && rate < 0.95) {
      buffer += wholeSeconds((0.95 - Math.max(0, rate)) * 10 * MINUTE);
    }
  }
  if (strategy.minBuffer > 0 && buffer < strategy.minBuffer) buffer = strategy.minBuffer;
  if (strategy.maxBuffer > 0 && buffer > strategy.maxBuffer) buffer = strategy.maxBuffer;
  return Math.min(buffer, Number.MAX_SAFE_INTEGER);
}

/**
 * The buffer {@link shouldRefresh} applies: {@link calculateBufferTime}, doubled for a
 * high-traffic credential (`requestsPerHour >= highTrafficThreshold`) when `preemptiveRefresh`
 * is on, the double capped at a non-zero `maxBuffer`. Doubling never shortens the buffer, even
 * when `bufferTime` already exceeds `maxBuffer`. Use it to schedule the
 * next refresh at `expiresAt − effectiveBufferTime(...)`.
 */
export function effectiveBufferTime(
  strategy: RefreshStrategy,
  metrics?: MetricsForStrategy,
): number {
  const buffer = calculateBufferTime(strategy, metrics);
  if (!strategy.preemptiveRefresh || !hasUsage(metrics)) return buffer;
  const rph = metrics.requestsPerHour;
  if (typeof rph !== "number" || Number.isNaN(rph) || rph < strategy.highTrafficThreshold) {
    return buffer;
  }
  let doubled = buffer * 2;
  if (strategy.maxBuffer > 0 && doubled > strategy.maxBuffer) doubled = strategy.maxBuffer;
  return Math.min(Math.max(buffer, doubled), Number.MAX_SAFE_INTEGER);
}

/**
 * Whether a credential's token should be refreshed now: always when its access token is `""`;
 * never when its expiry is unknown (no or an invalid `expiresAt`: it is then refreshed only after
 * a 401); else once `expiresAt − now <= ` {@link effectiveBufferTime}. Only time is considered;
 * whether a refresh token exists is the caller's business.
 *
 * @param now Epoch milliseconds, from `options.now`. @default Date.now()
 */
export function shouldRefresh(
  strategy: RefreshStrategy,
  cred: Pick<OAuthCredentialSet, "accessToken" | "expiresAt">,
  metrics?: MetricsForStrategy,
  now: number = systemClock(),
): boolean {
  if (cred.accessToken === "") return true;
  const expiresAt = cred.expiresAt?.getTime();
  if (expiresAt === undefined || Number.isNaN(expiresAt)) return false;
  return expiresAt - now <= effectiveBufferTime(strategy, metrics);
}

function hasUsage(metrics: MetricsForStrategy | undefined): metrics is MetricsForStrategy {
  return metrics !== undefined && metrics !== null && metrics.requestCount !== 0;
}

function finite(v: number | undefined): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/**
 * Whole seconds, truncated, so the adaptive buffer moves in steps of a second; rounding to the
 * millisecond first keeps float noise (0.95 − 0.9 = 0.04999…) from losing a second.
 */
function wholeSeconds(ms: number): number {
  return Math.floor(Math.round(ms) / SECOND) * SECOND;
}
