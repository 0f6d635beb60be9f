/**
 * `createStore`: the token store a configuration's `store` section names.
 * @module
 */
import { ClosedError, StoreError } from "../errors.js";
import { FileTokenStore } from "../stores/file-store.js";
import { MemoryTokenStore } from "../stores/memory-store.js";
import {
  type HealthMark,
  type SharedStateStore,
  type StoreChange,
  sharesState,
} from "../stores/shared-state.js";
import type { LockOptions, StoredToken, TokenStore } from "../stores/types.js";
import type { StoreConfig } from "./types.js";

/**
 * Builds the store a configuration names: `memory`, `file` or `redis`. Pass it to
 * `createManagers` and close it yourself after the managers (`manager.close()` never closes a
 * store it was given). Returns undefined without a `store` section.
 *
 * A `redis` store loads `oauthmanager/redis` (and so the `ioredis` package) on its first call, so
 * configurations without one never need ioredis; without ioredis installed, that first call
 * rejects with a `StoreError` saying so.
 * @throws {ConfigError} for a file store's invalid encryption key
 */
export function createStore(config: StoreConfig | undefined): TokenStore | undefined {
  if (!config) return undefined;
  switch (config.type) {
    case "memory":
      return new MemoryTokenStore();
    case "file":
      return new FileTokenStore(
        config.encryptionKey === undefined
          ? { path: config.path }
          : { path: config.path, encryptionKey: config.encryptionKey },
      );
    case "redis":
      return new DeferredRedisStore(config.url, config.prefix);
  }
}

/** A `RedisTokenStore` built on first use, since `createStore` answers synchronously. */
class DeferredRedisStore implements TokenStore {
  readonly #url: string;
  readonly #prefix: string | undefined;
  #store: Promise<TokenStore> | undefined;
  #closed = false;

  constructor(url: string, prefix: string | undefined) {
    this.#url = url;
    this.#prefix = prefix;
  }

  async load(key: string): Promise<StoredToken | undefined> {
    return (await this.#get()).load(key);
  }

  async loadAll(prefix: string): Promise<Map<string, StoredToken>> {
    return (await this.#get()).loadAll(prefix);
  }

  async save(key: string, token: StoredToken): Promise<StoredToken> {
    return (await this.#get()).save(key, token);
  }

  async delete(key: string): Promise<void> {
    return (await this.#get()).delete(key);
  }

  async withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    return (await this.#get()).withLock(key, fn, options);
  }

  // The sharing capability is the store's whole point across replicas: forwarded too, so that
  // managers on a store from the configuration share changes and health like any RedisTokenStore.

  watch(prefix: string, listener: (change: StoreChange) => void): () => void {
    let stop: (() => void) | undefined;
    let stopped = false;
    this.#get().then(
      (store) => {
        if (!stopped && sharesState(store)) stop = store.watch(prefix, listener);
      },
      // A store that cannot open fails its own calls; watching it only goes without news.
      () => {},
    );
    return () => {
      stopped = true;
      stop?.();
    };
  }

  async saveHealthMark(key: string, mark: HealthMark): Promise<void> {
    return ((await this.#get()) as TokenStore & SharedStateStore).saveHealthMark(key, mark);
  }

  async loadHealthMarks(prefix: string): Promise<Map<string, HealthMark[]>> {
    return ((await this.#get()) as TokenStore & SharedStateStore).loadHealthMarks(prefix);
  }

  async close(): Promise<void> {
    this.#closed = true;
    // Never opened: nothing to quit, and no reason to load ioredis now.
    const store = await this.#store?.catch(() => undefined);
    await store?.close();
  }

  #get(): Promise<TokenStore> {
    if (this.#closed && !this.#store) return Promise.reject(new ClosedError("RedisTokenStore"));
    this.#store ??= import("../stores/redis/index.js").then(
      ({ RedisTokenStore }) =>
        new RedisTokenStore(
          this.#prefix === undefined
            ? { url: this.#url }
            : { url: this.#url, prefix: this.#prefix },
        ),
      (err: unknown) => {
        throw new StoreError(
          "store type redis needs the ioredis package (npm install ioredis), which could not be loaded",
          { cause: err },
        );
      },
    );
    return this.#store;
  }
}
