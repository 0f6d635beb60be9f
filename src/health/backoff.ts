/**
 * Backoff steps after failures: one capped-exponential rule, and the two tracks of a credential's
 * health built on it (API failures 1 s … 60 s, refresh failures 60 s … 480 s). Pure functions:
 * the caller decides when to apply them.
 * @module
 */

/** Options shared by both backoff tracks. */
export interface JitterOptions {
  /**
   * Spread each step uniformly over [step/2, step] ("equal jitter", AWS Architecture Blog,
   * "Exponential Backoff and Jitter"), so a pool that failed together does not retry together.
   * @default false
   */
  jitter?: boolean;
  /** A source of numbers in [0, 1), for tests. @default Math.random */
  random?: () => number;
}

/** Options of {@link refreshBackoffMs}. */
export interface RefreshBackoffOptions extends JitterOptions {
  /** Consecutive refresh failures from which the credential backs off. @default 5 */
  threshold?: number;
}

const API_BASE_MS = 1_000;
/** 2^6 s = 64 s would pass this cap, so the doubling stops after the 6th failure (32 s). */
const API_MAX_MS = 60_000;
const REFRESH_BASE_MS = 60_000;
/** 60, 120, 240, then 480 s for good. */
const REFRESH_MAX_MS = 480_000;
/** Beyond this many doublings any base above zero has long passed any cap. */
const MAX_DOUBLINGS = 52;

/**
 * The wait before try number `attempt + 1`: `baseMs` after the 1st failure, doubling with each
 * further one, never above `maxMs`. Every retry schedule in the library uses this one rule.
 *
 * @param attempt failures so far, counted from 1 (below 1 gives `baseMs`)
 * @example cappedExponentialMs(3, 1_000, 60_000) // 4_000
 */
export function cappedExponentialMs(attempt: number, baseMs: number, maxMs: number): number {
  const doublings = attempt > 1 ? Math.min(attempt - 1, MAX_DOUBLINGS) : 0;
  return Math.min(baseMs * 2 ** doublings, maxMs);
}

/**
 * Backoff after `consecutiveFailures` API failures in a row: 1, 2, 4, 8, 16, 32 s for the 1st to
 * 6th failure, then 60 s for every later one; `0` for none. Non-integers are rounded down; NaN
 * and negatives give `0`; any count, however large, gives a finite value.
 *
 * @example apiBackoffMs(3) // 4_000
 */
export function apiBackoffMs(consecutiveFailures: number, opts: JitterOptions = {}): number {
  const n = count(consecutiveFailures);
  if (n <= 0) return 0;
  return jittered(cappedExponentialMs(n, API_BASE_MS, API_MAX_MS), opts);
}

/**
 * Backoff after `consecutiveRefreshFailures` failed refreshes in a row: `0` below the threshold,
 * then 60, 120, 240 s and 480 s for every later failure. This track is separate from the API one.
 *
 * @throws {RangeError} when `threshold` is not an integer >= 1.
 * @example refreshBackoffMs(6) // 120_000
 */
export function refreshBackoffMs(
  consecutiveRefreshFailures: number,
  opts: RefreshBackoffOptions = {},
): number {
  const threshold = opts.threshold ?? 5;
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new RangeError(`Expected \`threshold\` to be an integer >= 1, got ${String(threshold)}`);
  }
  const n = count(consecutiveRefreshFailures);
  if (n < threshold) return 0;
  const step = cappedExponentialMs(n - threshold + 1, REFRESH_BASE_MS, REFRESH_MAX_MS);
  return jittered(step, opts);
}

/** A failure count as a non-negative integer; NaN → 0, Infinity stays (the caps handle it). */
function count(n: number): number {
  if (typeof n !== "number" || Number.isNaN(n) || n <= 0) return 0;
  return Math.floor(n);
}

function jittered(step: number, opts: JitterOptions): number {
  if (!opts.jitter) return step;
  let r = (opts.random ?? Math.random)();
  // A misbehaving random source must not push the wait outside [step/2, step] or make it NaN.
  if (!Number.isFinite(r)) r = 1;
  r = Math.min(1, Math.max(0, r));
  return Math.floor(step / 2 + (r * step) / 2);
}
