/**
 * Time: the one place that reads the wall clock, and timers that keep the process alive only while
 * someone awaits what they bound.
 * @module
 */

/** Epoch milliseconds. Every time decision goes through one of these (`options.now`). */
export type Clock = () => number;

/** The wall clock. */
export const systemClock: Clock = () => Date.now();

/** Node fires any delay above this after 1 ms; longer waits are re-armed in steps. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Clamps a delay to what `setTimeout` honours; NaN and negatives become 0. */
export function safeDelay(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return Number.isNaN(ms) || ms <= 0 ? 0 : MAX_TIMER_DELAY_MS;
  return Math.min(ms, MAX_TIMER_DELAY_MS);
}

/**
 * Runs `fn` once `deadline` (per `clock`) has come, re-arming in steps for delays longer than
 * Node allows. The timer is unref'd. Returns a cancel function.
 */
export function scheduleAt(clock: Clock, deadline: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const arm = () => {
    timer = setTimeout(fire, safeDelay(deadline - clock()));
    timer.unref();
  };
  const fire = () => {
    if (cancelled) return;
    if (deadline - clock() > 0) arm();
    else fn();
  };
  arm();
  return () => {
    cancelled = true;
    if (timer) clearTimeout(timer);
  };
}

/**
 * Settles as `promise` does, or rejects with `error()` after `ms`. The timer is not unref'd:
 * someone awaits the race, and work that hangs without I/O (a custom store, a callback) must end
 * in the timeout rather than let the process exit with that promise pending. It is cleared as
 * soon as the race settles, so it holds the process for at most `ms`.
 */
export function raceTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), safeDelay(ms));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
