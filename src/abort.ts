/**
 * Racing work against an AbortSignal without leaking listeners, and without piling them up: a
 * signal shared by many pending calls (a caller's signal passed to 50 requests, the manager's
 * lifetime signal under 50 refreshes) carries one listener that fans out to them, so Node never
 * warns about a possible leak and nobody has to raise the signal's listener limit.
 * @module
 */

/** One caller waiting for a signal's abort. */
interface Waiter {
  /** Emptied once the waiter stops or is called, so that nothing it held stays reachable. */
  call: () => void;
  /** Its index in the list; {@link TAKEN} while an abort calls it, {@link DONE} after. */
  at: number;
}

const TAKEN = -2;
const DONE = -1;
const nothing = () => {};

/** The callers waiting for one signal's abort, and the one listener that calls them. */
interface Waiters {
  list: Waiter[];
  listener: () => void;
}

const waitersBySignal = new WeakMap<AbortSignal, Waiters>();

/**
 * Calls `callback` once when `signal` aborts (at once when it has already). Every caller on one
 * signal shares a single listener, removed when the last caller stops waiting.
 *
 * The waiters are an array, a stopped one replaced by the last: not a `Set`. A long-lived signal
 * (a client connection's, carrying thousands of requests) sees a waiter added and removed per
 * request, and V8 rebuilds the table of a `Set` that churns like that every few entries, each old
 * table pointing to its successor. Once one old table had been promoted to the old generation,
 * young-generation collections took that dead table's link as live, and the chain of its
 * successors kept every later request's waiter, and all the request's objects it reached, alive
 * until the next full collection: under load a gateway's young-generation collections copied
 * about 2.2 KB per request instead of 380 B, and promoted most of it. A stopped waiter also lets
 * go of its callback, so that a waiter that was promoted and then stopped holds nothing.
 * @returns a function that stops waiting; calling it again, or after the abort, does nothing
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    callback();
    return () => {};
  }
  let waiters = waitersBySignal.get(signal);
  if (!waiters) {
    const list: Waiter[] = [];
    const listener = () => {
      waitersBySignal.delete(signal);
      const taken = list.splice(0);
      for (const waiter of taken) waiter.at = TAKEN;
      // A callback may stop a waiter not called yet, which empties that one's `call`.
      for (const waiter of taken) {
        const call = waiter.call;
        waiter.at = DONE;
        waiter.call = nothing;
        call();
      }
    };
    waiters = { list, listener };
    waitersBySignal.set(signal, waiters);
    signal.addEventListener("abort", listener, { once: true });
  }
  const { list, listener } = waiters;
  // One record per call, so the same function passed twice is two waiters with their own stops.
  const waiter: Waiter = { call: callback, at: list.length };
  list.push(waiter);
  return () => {
    const at = waiter.at;
    if (at === DONE) return;
    waiter.at = DONE;
    waiter.call = nothing;
    if (at === TAKEN) return;
    const last = list.pop();
    if (last !== undefined && last !== waiter) {
      list[at] = last;
      last.at = at;
    }
    if (list.length > 0) return;
    signal.removeEventListener("abort", listener);
    if (waitersBySignal.get(signal)?.list === list) waitersBySignal.delete(signal);
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
