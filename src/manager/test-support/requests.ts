/**
 * What the request-path tests share: HTTP-like errors, a clock moved by hand, credentials, and
 * promises settled from outside.
 * @module
 */

/** An error carrying an HTTP status and headers, as the default classifier reads them. */
export const httpError = (status: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`HTTP ${status}`), { status, headers });

/** A clock that moves only when told (`options.now`). */
export function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** `n` credentials `c0`, `c1`, … with tokens that never expire. */
export function creds(n: number) {
  return Array.from({ length: n }, (_, i) => ({ id: `c${i}`, accessToken: `t${i}` }));
}

/** An operation that succeeds with the id of the credential it ran on. */
export const ok = async (cred: { id: string }) => ({ result: cred.id });

/** A promise with its resolve and reject at hand. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Settles to the value or the error, so a pending call can be checked without awaiting it. */
export function track<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}
