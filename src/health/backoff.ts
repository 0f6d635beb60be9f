/**
 * Backoff steps after failures, the original's numbers (API.md "Health and backoff", RELIABILITY
 * F16). Pure functions: the health state decides when to apply them.
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
const API_MAX_MS = 60_000;
/** 2^6 s = 64 s would pass the 60 s cap, so the doubling stops after the 6th failure (32 s). */
const API_DOUBLINGS = 6;
const REFRESH_BASE_MS = 60_000;
/** 60, 120, 240, then 480 s for good. */
const REFRESH_DOUBLINGS = 3;

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
  const step = n > API_DOUBLINGS ? API_MAX_MS : API_BASE_MS * 2 ** (n - 1);
  return jittered(step, opts);
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
  const step = REFRESH_BASE_MS * 2 ** Math.min(n - threshold, REFRESH_DOUBLINGS);
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
