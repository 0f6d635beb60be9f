/**
 * A token store as the manager uses it: keyed by credential id under the provider's prefix, and
 * every call bounded by a timeout, so a slow store can never hang a request.
 * @module
 */
import { raceTimeout } from "../clock.js";
import { isLockTimeoutError, LockTimeoutError, StoreError } from "../errors.js";
import { errnoCode } from "../stores/errno.js";
import {
  type HealthMark,
  type SharedStateStore,
  type StoreChange,
  sharesState,
} from "../stores/shared-state.js";
import type { StoredToken, TokenStore } from "../stores/types.js";
import { storeKey } from "./stored-token.js";

/** Options of {@link BoundedStore}. */
export interface BoundedStoreOptions {
  /** Every load, save and delete gives up after this long. */
  timeoutMs: number;
  /** The longest wait for another process's refresh under the store lock. */
  lockTimeoutMs: number;
}

/** One provider's view of a {@link TokenStore}, with timeouts. */
export class BoundedStore {
  readonly #store: TokenStore;
  readonly #prefix: string;
  readonly #options: BoundedStoreOptions;
  readonly #shared: SharedStateStore | undefined;

  constructor(store: TokenStore, provider: string, options: BoundedStoreOptions) {
    this.#store = store;
    this.#prefix = storeKey(provider, "");
    this.#options = options;
    this.#shared = sharesState(store) ? store : undefined;
  }

  /** Whether the store shares changes and health marks between processes. */
  get shares(): boolean {
    return this.#shared !== undefined;
  }

  /**
   * Calls `listener` with other processes' changes to this provider's records, keyed by
   * credential id (and with `resync`). A store that does not share never calls it.
   * @returns a function that stops the calls
   */
  watch(listener: (change: StoreChange) => void): () => void {
    if (!this.#shared) return () => {};
    const cut = this.#prefix.length;
    return this.#shared.watch(this.#prefix, (change) =>
      listener(change.type === "resync" ? change : { ...change, key: change.key.slice(cut) }),
    );
  }

  /** Stores and announces a health mark on `id`; nothing for a store that does not share. */
  async saveHealthMark(id: string, mark: HealthMark): Promise<void> {
    if (this.#shared) await this.#bounded("save", this.#shared.saveHealthMark(this.#key(id), mark));
  }

  /** The health marks holding on this provider's credentials, by id. */
  async loadHealthMarks(): Promise<Map<string, HealthMark[]>> {
    const byId = new Map<string, HealthMark[]>();
    if (!this.#shared) return byId;
    const all = await this.#bounded("load", this.#shared.loadHealthMarks(this.#prefix));
    for (const [key, marks] of all) byId.set(key.slice(this.#prefix.length), marks);
    return byId;
  }

  #key(id: string): string {
    return this.#prefix + id;
  }

  /** Every stored record of this provider, by credential id. */
  async loadAll(): Promise<Map<string, StoredToken>> {
    const all = await this.#bounded("load", this.#store.loadAll(this.#prefix));
    const byId = new Map<string, StoredToken>();
    for (const [key, token] of all) byId.set(key.slice(this.#prefix.length), token);
    return byId;
  }

  /** The stored record of `id`, or undefined when none. */
  load(id: string): Promise<StoredToken | undefined> {
    return this.#bounded("load", this.#store.load(this.#key(id)));
  }

  /** Writes the record of `id`; resolves with it as stored. */
  save(id: string, token: StoredToken): Promise<StoredToken> {
    return this.#bounded("save", this.#store.save(this.#key(id), token));
  }

  /** Deletes the record of `id`. */
  delete(id: string): Promise<void> {
    return this.#bounded("delete", this.#store.delete(this.#key(id)));
  }

  /** Runs `fn` under the store's lock for this credential, shared by every process using the store. */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const ms = this.#options.lockTimeoutMs;
    // Bounded here too, for a store that ignores its own lock timeout: the wait for the lock
    // plus the refresh inside it may take up to twice the lock timeout. A wait that never ends
    // looks like a holder that never lets go, so it is reported as a lock timeout: the caller
    // then checks whether the store still answers before refreshing beside a possible holder.
    return raceTimeout(
      this.#store.withLock(this.#key(id), fn, { timeoutMs: ms }),
      2 * ms,
      () => new LockTimeoutError(`token store lock on ${id} not settled within ${2 * ms} ms`),
    );
  }

  #bounded<T>(operation: string, promise: Promise<T>): Promise<T> {
    const ms = this.#options.timeoutMs;
    return raceTimeout(
      promise,
      ms,
      () => new StoreError(`token store ${operation} timed out after ${ms} ms`),
    );
  }
}

/**
 * Whether a failed `withLock` means another holder has the lock: the store's lock timeout, or a
 * lock library's "already locked" code. Any other failure means the lock cannot be had at all.
 */
export function isLockContention(err: unknown): boolean {
  return isLockTimeoutError(err) || errnoCode(err) === "ELOCKED";
}
