/**
 * `MemoryTokenStore`: tokens in a `Map`, for tests and single-process use. Also home to the small
 * pieces every store shares: argument checks, deep copies and an in-process keyed lock.
 * @module
 */
import { MAX_TIMER_DELAY_MS } from "../clock.js";
import { describe, describeSetting } from "../describe.js";
import { ClosedError, LockTimeoutError } from "../errors.js";
import { copyProviderData, providerDataIssues } from "../provider-data.js";
import { copyRotation } from "./rotation-record.js";
import type { LockOptions, StoredToken, TokenStore } from "./types.js";
import { copyUsage, usageIssue } from "./usage-record.js";

/** Names what arrived without quoting it, for the file store's messages. @internal */

/** What {@link TokenStore.withLock} waits for the lock when no `timeoutMs` is given. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/**
 * A token store that lives in this process only. Tokens are deep-copied on the way in and out,
 * so a caller mutating what it saved or loaded never changes the store.
 *
 * @example
 * ```ts
 * const store = new MemoryTokenStore();
 * const saved = await store.save("gemini/work", { accessToken: "…" }); // saved.version === 1
 * ```
 */
export class MemoryTokenStore implements TokenStore {
  readonly #tokens = new Map<string, StoredToken>();
  readonly #locks = new KeyedMutex();
  #closed = false;

  /**
   * The stored token (a copy), or undefined when none.
   * @throws {ClosedError} after {@link close}.
   * @throws {TypeError} when `key` is not a non-empty string.
   */
  async load(key: string): Promise<StoredToken | undefined> {
    this.#ensureOpen();
    checkKey(key);
    const token = this.#tokens.get(key);
    return token && cloneToken(token);
  }

  /** Every stored key starting with `prefix` (`""` for all), with a copy of its token. */
  async loadAll(prefix: string): Promise<Map<string, StoredToken>> {
    this.#ensureOpen();
    checkPrefix(prefix);
    const out = new Map<string, StoredToken>();
    for (const [key, token] of this.#tokens) {
      if (key.startsWith(prefix)) out.set(key, cloneToken(token));
    }
    return out;
  }

  /**
   * Stores a copy of `token` under `key`; its `version` is set to one more than the stored one's
   * (any `version` passed in is ignored). Resolves with a copy of what was stored.
   * @throws {TypeError} when `token` is not a valid {@link StoredToken}.
   */
  async save(key: string, token: StoredToken): Promise<StoredToken> {
    this.#ensureOpen();
    checkKey(key);
    checkToken(token);
    const next = cloneToken(token, (this.#tokens.get(key)?.version ?? 0) + 1);
    this.#tokens.set(key, next);
    return cloneToken(next);
  }

  /** Removes `key`; removing a key that is not there is not an error. */
  async delete(key: string): Promise<void> {
    this.#ensureOpen();
    checkKey(key);
    this.#tokens.delete(key);
  }

  /**
   * Runs `fn` while holding this store's lock on `key`. Waiters take the lock in arrival order.
   * Not re-entrant: calling `withLock` on the same key from inside `fn` waits until it times out.
   * @throws {LockTimeoutError} when the lock was not free within `timeoutMs` (@default 30_000).
   * @throws `signal.reason` when `signal` aborts before the lock is taken.
   */
  async withLock<T>(key: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    this.#ensureOpen();
    checkKey(key);
    checkFn(fn);
    const { timeoutMs, signal } = normalizeLockOptions(options);
    const release = await this.#locks.acquire(key, timeoutMs, signal, () =>
      lockTimeoutError("MemoryTokenStore", key, timeoutMs),
    );
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Marks the store closed; later calls reject with `ClosedError`. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #ensureOpen(): void {
    if (this.#closed) throw new ClosedError("MemoryTokenStore");
  }
}

// ---------------------------------------------------------------------------------------------
// Shared by the stores of this folder (not part of the public surface).

type Waiter = { grant: () => void };

/**
 * An in-process lock per key. A key is in the map only while held, so memory stays bounded by
 * the number of keys locked at once, not by every key ever locked.
 * @internal
 */
export class KeyedMutex {
  /** Present = held; the array holds the waiters in arrival order. */
  readonly #held = new Map<string, Waiter[]>();

  /** Keys currently held (for tests of boundedness). */
  get size(): number {
    return this.#held.size;
  }

  /**
   * Resolves with a release function once `key` is free. Rejects with `timeoutError()` after
   * `timeoutMs` and with `signal.reason` on abort; a waiter that gives up leaves the queue.
   */
  acquire(
    key: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    timeoutError: () => Error,
  ): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const queue = this.#held.get(key);
    if (!queue) {
      this.#held.set(key, []);
      return Promise.resolve(this.#releaser(key));
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const leave = () => {
        cleanup();
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
      };
      const onAbort = () => {
        leave();
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          cleanup();
          resolve(this.#releaser(key));
        },
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () => {
            leave();
            reject(timeoutError());
          },
          Math.min(timeoutMs, MAX_TIMER_DELAY_MS),
        );
        // The holder's own work keeps the process alive if it has any; a bare wait should not.
        timer.unref();
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      queue.push(waiter);
    });
  }

  #releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#held.get(key)?.shift();
      if (next) next.grant();
      else this.#held.delete(key);
    };
  }
}

/** @internal */
export function lockTimeoutError(
  store: string,
  key: string,
  timeoutMs: number,
  path?: string,
): LockTimeoutError {
  return new LockTimeoutError(
    `${store}: timed out after ${timeoutMs} ms waiting for the lock on ${key}`,
    path === undefined ? {} : { path },
  );
}

/** @internal */
export function normalizeLockOptions(options: LockOptions | undefined): {
  timeoutMs: number;
  signal: AbortSignal | undefined;
} {
  if (options === undefined) return { timeoutMs: DEFAULT_LOCK_TIMEOUT_MS, signal: undefined };
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(
      `Expected \`timeoutMs\` to be a number >= 0 (milliseconds), got ${describeSetting(timeoutMs)}`,
    );
  }
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, got ${describe(signal)}`);
  }
  return { timeoutMs, signal };
}

/** @internal */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0) {
    throw new TypeError(`Expected \`key\` to be a non-empty string, got ${describe(key)}`);
  }
}

/** @internal */
export function checkPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string") {
    throw new TypeError(`Expected \`prefix\` to be a string, got ${describe(prefix)}`);
  }
}

/** @internal */
export function checkFn(fn: unknown): void {
  if (typeof fn !== "function") {
    throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
  }
}

/**
 * Checks a token before it is stored. Messages name the field and the type that arrived, never
 * the value: these fields hold secrets.
 * @internal
 */
export function checkToken(token: unknown): asserts token is StoredToken {
  if (typeof token !== "object" || token === null || Array.isArray(token)) {
    throw new TypeError(`Expected \`token\` to be an object, got ${describe(token)}`);
  }
  const t = token as Record<string, unknown>;
  if (typeof t.accessToken !== "string") {
    throw new TypeError(
      `Expected \`token.accessToken\` to be a string, got ${describe(t.accessToken)}`,
    );
  }
  optional(t, "refreshToken", "a string", (v) => typeof v === "string");
  optional(t, "expiresAt", "a valid Date", isValidDate);
  optional(t, "lastRefresh", "a valid Date", isValidDate);
  optional(
    t,
    "refreshCount",
    "an integer >= 0",
    (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  );
  optional(
    t,
    "scopes",
    "an array of strings",
    (v) => Array.isArray(v) && v.every((s) => typeof s === "string"),
  );
  optional(t, "version", "an integer >= 0", (v) => Number.isSafeInteger(v) && (v as number) >= 0);
  if (t.providerData !== undefined) {
    const issue = providerDataIssues(t.providerData)[0];
    if (issue) {
      throw new TypeError(`\`token.providerData${issue.path}\` ${issue.message}`);
    }
  }
  if (t.usage !== undefined) {
    const issue = usageIssue(t.usage);
    if (issue) throw new TypeError(`Expected \`token.usage\` to be ${issue}`);
  }
  if (t.rotation === undefined) return;
  const r = t.rotation;
  if (typeof r !== "object" || r === null || Array.isArray(r)) {
    throw new TypeError(`Expected \`token.rotation\` to be an object, got ${describe(r)}`);
  }
  const rot = r as Record<string, unknown>;
  if (!isValidDate(rot.createdAt)) {
    throw new TypeError(
      `Expected \`token.rotation.createdAt\` to be a valid Date, got ${describe(rot.createdAt)}`,
    );
  }
  if (typeof rot.markedForRotation !== "boolean") {
    throw new TypeError(
      `Expected \`token.rotation.markedForRotation\` to be a boolean, got ${describe(rot.markedForRotation)}`,
    );
  }
  optional(rot, "rotationStartedAt", "a valid Date", isValidDate, "token.rotation");
  optional(rot, "replacementId", "a string", (v) => typeof v === "string", "token.rotation");
  optional(rot, "decommissionAt", "a valid Date", isValidDate, "token.rotation");
}

function optional(
  obj: Record<string, unknown>,
  field: string,
  expected: string,
  ok: (v: unknown) => boolean,
  parent = "token",
): void {
  const v = obj[field];
  if (v !== undefined && !ok(v)) {
    throw new TypeError(`Expected \`${parent}.${field}\` to be ${expected}, got ${describe(v)}`);
  }
}

function isValidDate(v: unknown): v is Date {
  return v instanceof Date && !Number.isNaN(v.getTime());
}

/**
 * A deep copy of a checked token: fresh Dates and arrays, no `undefined` fields. With `version`,
 * the copy carries that version instead.
 * @internal
 */
export function cloneToken(token: StoredToken, version?: number): StoredToken {
  const out: StoredToken = { accessToken: token.accessToken };
  if (token.refreshToken !== undefined) out.refreshToken = token.refreshToken;
  if (token.expiresAt !== undefined) out.expiresAt = new Date(token.expiresAt.getTime());
  if (token.lastRefresh !== undefined) out.lastRefresh = new Date(token.lastRefresh.getTime());
  if (token.refreshCount !== undefined) out.refreshCount = token.refreshCount;
  if (token.scopes !== undefined) out.scopes = [...token.scopes];
  if (token.providerData !== undefined) out.providerData = copyProviderData(token.providerData);
  if (token.rotation !== undefined) out.rotation = copyRotation(token.rotation);
  if (token.usage !== undefined) out.usage = copyUsage(token.usage);
  const v = version ?? token.version;
  if (v !== undefined) out.version = v;
  return out;
}
