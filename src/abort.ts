/**
 * Racing work against a caller's AbortSignal without leaking listeners.
 * @module
 */

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
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
