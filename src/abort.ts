/**
 * Racing work against an AbortSignal without leaking listeners, and without piling them up: a
 * signal shared by many pending calls (a caller's signal passed to 50 requests, the manager's
 * lifetime signal under 50 refreshes) carries one listener that fans out to them, so Node never
 * warns about a possible leak and nobody has to raise the signal's listener limit.
 * @module
 */

/** The callbacks waiting for one signal's abort, and the one listener that calls them. */
interface Waiters {
  callbacks: Set<() => void>;
  listener: () => void;
}

const waitersBySignal = new WeakMap<AbortSignal, Waiters>();

/**
 * Calls `callback` once when `signal` aborts (at once when it has already). Every caller on one
 * signal shares a single listener, removed when the last caller stops waiting.
 * @returns a function that stops waiting; calling it again, or after the abort, does nothing
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    callback();
    return () => {};
  }
  let waiters = waitersBySignal.get(signal);
  if (!waiters) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      waitersBySignal.delete(signal);
      for (const call of callbacks) call();
      callbacks.clear();
    };
    waiters = { callbacks, listener };
    waitersBySignal.set(signal, waiters);
    signal.addEventListener("abort", listener, { once: true });
  }
  const { callbacks, listener } = waiters;
  // Wrapped, so the same function passed twice is two waiters with their own stop functions.
  const waiter = () => callback();
  callbacks.add(waiter);
  return () => {
    if (!callbacks.delete(waiter) || callbacks.size > 0) return;
    signal.removeEventListener("abort", listener);
    if (waitersBySignal.get(signal)?.callbacks === callbacks) waitersBySignal.delete(signal);
  };
}

/** Resolves or rejects as `promise` does, or rejects with `signal.reason` once it aborts. */
export function raceAbort<T>(
  work: T | PromiseLike<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  // An operation may return a plain value or a thenable: treat it as a promise.
  const promise = Promise.resolve(work);
  if (!signal) return promise;
  if (signal.aborted) {
    // The work goes on unobserved: keep its rejection from being reported as unhandled.
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const stop = onAbort(signal, () => reject(signal.reason));
    promise.then(
      (value) => {
        stop();
        resolve(value);
      },
      (err: unknown) => {
        stop();
        reject(err);
      },
    );
  });
}

/**
 * Waits `ms`, or rejects with `signal.reason` once it aborts. The timer is not unref'd: a caller
 * awaits this wait like any pending I/O (a lock retry between two attempts), and an unref'd one
 * would let the process exit in the middle of that caller's work. It is cleared on abort.
 */
export function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    let stop = (): void => {};
    const timer = setTimeout(() => {
      stop();
      resolve();
    }, ms);
    if (signal) {
      stop = onAbort(signal, () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
    }
  });
}
