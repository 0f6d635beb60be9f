/**
 * The token store contract: where refreshed tokens and rotation state outlive the process.
 * @module
 */
import type { ProviderData } from "../types.js";

/** Rotation state as persisted, so a 30-day interval survives restarts. */
export interface StoredRotation {
  createdAt: Date;
  markedForRotation: boolean;
  rotationStartedAt?: Date;
  replacementId?: string;
  decommissionAt?: Date;
}

/** A credential's usage-budget counters for one window (UTC hour, day or month). */
export interface StoredUsage {
  window: "hour" | "day" | "month";
  /** When the window began. */
  start: Date;
  /** Prompt + completion tokens counted in the window. */
  tokens: number;
  /** Their cost, by the configured per-model prices (0 without prices). */
  cost: number;
}

/** What a store keeps for one credential. Secrets live here; never log a StoredToken. */
export interface StoredToken {
  accessToken: string;
  refreshToken?: string;
  expiresAt?: Date;
  lastRefresh?: Date;
  refreshCount?: number;
  scopes?: string[];
  /** The credential's provider facts (no secrets in them). */
  providerData?: ProviderData;
  rotation?: StoredRotation;
  /** Usage-budget counters, when budgets are configured. */
  usage?: StoredUsage[];
  /** Set by the store: increases by one on every save of this key. */
  version?: number;
}

/** Options of {@link TokenStore.withLock}. */
export interface LockOptions {
  /**
   * Give up waiting for the lock after this long (rejects with a `LockTimeoutError`).
   * @default 30_000
   */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Persists tokens by key (the manager uses `"<provider>/<credentialId>"`).
 * Implementations: `MemoryTokenStore` and `FileTokenStore`; write your own for other storage.
 * A store that several processes share may also implement `SharedStateStore`, so their managers
 * hear each other's changes and honour each other's cooldowns.
 */
export interface TokenStore {
  /** The stored token, or undefined when none. Rejects with a `StoreError` on unreadable data. */
  load(key: string): Promise<StoredToken | undefined>;
  /** Every stored key starting with `prefix`, with its token. */
  loadAll(prefix: string): Promise<Map<string, StoredToken>>;
  /** Writes the token durably and returns it with its new `version`. */
  save(key: string, token: StoredToken): Promise<StoredToken>;
  delete(key: string): Promise<void>;
  /**
   * Runs `fn` while holding an exclusive lock on `key`, shared by every process using the same
   * store, so that a refresh happens once across them. Not re-entrant.
   *
   * Rejects with a `LockTimeoutError` only when another holder kept the lock for the whole wait;
   * the manager then uses that holder's token rather than refresh beside it. Any other rejection
   * means the lock cannot be had at all, and the manager refreshes without it and raises an alert.
   */
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>;
  /** Releases resources. A store given an outside client leaves it open. */
  close(): Promise<void>;
}
