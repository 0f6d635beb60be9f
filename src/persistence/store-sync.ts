/**
 * Keeping the pool and a token store in step: load before first use, write after each refresh
 * and rotation step, retry failed writes, and report every failure while going on from memory.
 * @module
 */
import { type Clock, scheduleAt } from "../clock.js";
import { messageOf, redactSecrets } from "../errors.js";
import type { ManagerEvents, TypedEmitter } from "../events.js";
import { cappedExponentialMs } from "../health/backoff.js";
import type { Notifier } from "../monitoring/notifier.js";
import type { PoolEntry } from "../pool/entry.js";
import type { CredentialPool } from "../pool/pool.js";
import type { StoredRotation, StoredToken, StoredUsage } from "../stores/types.js";
import type { Logger, RotationState } from "../types.js";
import { type BoundedStore, isLockContention } from "./bounded-store.js";
import { adoptStored, storedIsNewer, toStored } from "./stored-token.js";

/** A failed save of a refreshed token is retried after 1 s, 2 s, 4 s … up to every 5 min. */
const SAVE_RETRY_BASE_MS = 1_000;
const SAVE_RETRY_MAX_MS = 300_000;

/** Where the rotation state that is stored beside each token comes from, and goes back to. */
export interface RotationRecords {
  /** A copy of `id`'s rotation state. */
  getRotationState(id: string): RotationState | undefined;
  /** Takes a stored rotation state for `id` into memory. */
  restore(id: string, stored: StoredRotation): void;
}

/** The usage-budget counters stored beside each token, and how they meet the stored ones. */
export interface UsageRecords {
  /** The counters to store for `entry`, merged with the `stored` ones when they were read. */
  forSave(entry: PoolEntry, stored?: readonly StoredUsage[]): StoredUsage[] | undefined;
  /** Those counters are in the store now. */
  saved(entry: PoolEntry, usage: readonly StoredUsage[]): void;
  /** Takes stored counters into memory; thresholds they reach count as alerted already. */
  merge(entry: PoolEntry, stored: readonly StoredUsage[] | undefined, silent: boolean): void;
}

/** What {@link StoreSync} works with. */
export interface StoreSyncDeps {
  store: BoundedStore;
  pool: CredentialPool;
  rotation: RotationRecords;
  now: Clock;
  logger: Logger;
  events: TypedEmitter<ManagerEvents>;
  notifier: Notifier;
  /** Aborted by `close()`: no save is retried after it. */
  lifetime: AbortSignal;
  /** Usage-budget counters, when budgets are configured. */
  usage?: UsageRecords | undefined;
}

/** A credential whose save failed, until a save succeeds and no retry is pending. */
interface Unsaved {
  failures: number;
  /** Cancels the pending retry. */
  cancelRetry: (() => void) | undefined;
}

export class StoreSync {
  readonly #deps: StoreSyncDeps;
  readonly #unsaved = new Map<PoolEntry, Unsaved>();
  /** The first load has settled: credentials added from now on are looked up one by one. */
  #loaded = false;

  constructor(deps: StoreSyncDeps) {
    this.#deps = deps;
    deps.pool.listen({
      added: (entry) => {
        if (this.#loaded) void this.#adoptOrStore(entry);
      },
      removed: (entry) => this.#forget(entry),
    });
  }

  /** Loads every stored record: newer tokens and stored rotation state win; new ones are stored. */
  async load(): Promise<void> {
    try {
      this.#reconcile(await this.#deps.store.loadAll(), () => true);
    } finally {
      this.#loaded = true;
    }
  }

  /**
   * Reads every stored record again, when changes of other processes may have been missed (the
   * store's feed was down, or Redis came back empty): newer records are taken; a credential the
   * store lost is written back (under its lock, re-read first), so an emptied store is seeded
   * again and an older token never replaces a newer one. A refreshable credential whose record
   * is older is written back too; a static one is not (each process keeps its configured key).
   */
  async resync(): Promise<void> {
    if (!this.#loaded) return;
    let stored: Map<string, StoredToken>;
    try {
      stored = await this.#deps.store.loadAll();
    } catch (err) {
      this.failed(undefined, "load", err);
      return;
    }
    this.#reconcile(stored, (entry) => entry.view.refreshToken !== undefined);
  }

  /**
   * Takes `entry`'s record as another process just saved it, when it holds newer tokens (and
   * its rotation state). Never writes back: that process announced the newest it has.
   * @returns whether other tokens were taken into memory
   */
  async takeSaved(entry: PoolEntry): Promise<boolean> {
    const token = await this.read(entry);
    if (!token || entry.removed) return false;
    if (token.rotation) this.#deps.rotation.restore(entry.id, token.rotation);
    if (!storedIsNewer(token, entry)) return false;
    adoptStored(entry, token);
    return true;
  }

  #reconcile(stored: Map<string, StoredToken>, writeBack: (entry: PoolEntry) => boolean): void {
    for (const entry of this.#deps.pool.entries.values()) {
      const token = stored.get(entry.id);
      if (!token) void this.#storeUnlessNewer(entry);
      else this.#apply(entry, token, writeBack(entry));
    }
  }

  /**
   * Writes `entry` to the store. On failure the token stays in use from memory, the save is
   * retried with backoff, and a critical alert goes out: a rotated refresh token must never be
   * lost silently.
   */
  async persist(entry: PoolEntry): Promise<void> {
    if (entry.removed) return;
    const usage = this.#deps.usage;
    try {
      const counts = usage?.forSave(entry);
      await this.#deps.store.save(
        entry.id,
        toStored(entry.view, this.#deps.rotation.getRotationState(entry.id), counts),
      );
      if (counts) usage?.saved(entry, counts);
      const unsaved = this.#unsaved.get(entry);
      if (unsaved) {
        unsaved.failures = 0;
        if (!unsaved.cancelRetry) this.#unsaved.delete(entry);
      }
    } catch (err) {
      let unsaved = this.#unsaved.get(entry);
      if (!unsaved) {
        unsaved = { failures: 0, cancelRetry: undefined };
        this.#unsaved.set(entry, unsaved);
      }
      unsaved.failures++;
      this.failed(entry, "save", err);
      this.#scheduleRetry(entry, unsaved);
    }
  }

  /**
   * Writes `entry`'s usage counters: under its lock, the stored record is read, its counters
   * merged with this process's (other processes count the same credential), its tokens taken
   * when newer, and the whole written back.
   * @throws the store's error, reported already
   */
  async saveUsage(entry: PoolEntry): Promise<void> {
    const { store, rotation, usage } = this.#deps;
    if (!usage || entry.removed) return;
    try {
      await store.withLock(entry.id, async () => {
        if (entry.removed) return;
        const token = await store.load(entry.id);
        if (token && storedIsNewer(token, entry)) adoptStored(entry, token);
        const counts = usage.forSave(entry, token?.usage);
        if (!counts) return;
        await store.save(
          entry.id,
          toStored(entry.view, rotation.getRotationState(entry.id), counts),
        );
        usage.saved(entry, counts);
      });
    } catch (err) {
      this.failed(entry, "save_usage", err);
      throw err;
    }
  }

  /** The stored record of `entry`; a failure to read is reported and gives undefined. */
  read(entry: PoolEntry): Promise<StoredToken | undefined> {
    return this.#deps.store.load(entry.id).catch((err: unknown) => {
      this.failed(entry, "load", err);
      return undefined;
    });
  }

  /**
   * The stored record of `entry`, without reporting a failure.
   * @returns undefined when the store did not answer, else what it holds
   */
  probe(entry: PoolEntry): Promise<{ token: StoredToken | undefined } | undefined> {
    return this.#deps.store.load(entry.id).then(
      (token) => ({ token }),
      () => undefined,
    );
  }

  /** Runs `fn` under the store's lock for `entry`, shared by every process using the store. */
  withLock<T>(entry: PoolEntry, fn: () => Promise<T>): Promise<T> {
    return this.#deps.store.withLock(entry.id, fn);
  }

  /** Stops the save retries; returns the credentials whose last save failed, for a final try. */
  stopRetries(): PoolEntry[] {
    const unsaved: PoolEntry[] = [];
    for (const [entry, record] of this.#unsaved) {
      record.cancelRetry?.();
      if (record.failures > 0) unsaved.push(entry);
    }
    this.#unsaved.clear();
    return unsaved;
  }

  /** Reports a store failure: logged, a `store_error` event, and an alert. */
  failed(entry: PoolEntry | undefined, operation: string, err: unknown): void {
    const { logger, events, notifier } = this.#deps;
    const safe = entry ? redactSecrets(err, entry.secrets()) : err;
    const id = entry?.id;
    const critical = operation === "save";
    logger.error(
      `oauthmanager: token store ${operation} failed${id ? ` for credential ${id}` : ""}; ${
        critical
          ? "the refreshed token is kept in memory and the save retried"
          : "going on from memory"
      }: ${messageOf(safe)}`,
    );
    events.emit("store_error", { credentialId: id, operation, error: safe });
    notifier.raise(
      id ?? "*",
      critical ? "Failed to persist refreshed token" : "Token store unavailable",
      {
        // distinct reasons: a warning's cooldown must never hold back the critical alert
        reason: critical ? "persistence_failed" : "store_unavailable",
        operation,
        severity: critical ? "critical" : "warning",
        error: messageOf(safe),
      },
    );
  }

  /** A credential added while serving: take its stored state if there is one, else store it. */
  async #adoptOrStore(entry: PoolEntry): Promise<void> {
    let token: StoredToken | undefined;
    try {
      token = await this.#deps.store.load(entry.id);
    } catch (err) {
      this.failed(entry, "load", err);
      return;
    }
    if (token) this.#apply(entry, token);
    else await this.#storeUnlessNewer(entry);
  }

  /** A credential left the pool: its retry stops and its record is deleted. */
  #forget(entry: PoolEntry): void {
    this.#unsaved.get(entry)?.cancelRetry?.();
    this.#unsaved.delete(entry);
    this.#deps.store
      .delete(entry.id)
      .catch((err: unknown) => this.failed(undefined, "delete", err));
  }

  #apply(entry: PoolEntry, token: StoredToken, writeBack = true): void {
    if (token.rotation) this.#deps.rotation.restore(entry.id, token.rotation);
    // Stored counts were counted, and alerted on, by whichever process stored them.
    this.#deps.usage?.merge(entry, token.usage, true);
    // The configuration is newer (a re-authentication, a changed key): store it, so no process
    // takes the stale record back in later.
    if (this.#takeTokens(entry, token) && writeBack) void this.#storeUnlessNewer(entry);
  }

  /**
   * Takes the stored tokens into memory when they are newer.
   * @returns true when memory holds other tokens, newer than the stored ones
   */
  #takeTokens(entry: PoolEntry, token: StoredToken): boolean {
    if (storedIsNewer(token, entry)) {
      adoptStored(entry, token);
      return false;
    }
    return (
      token.accessToken !== entry.view.accessToken || token.refreshToken !== entry.view.refreshToken
    );
  }

  /**
   * Stores `entry` where the store held no record of it, or an older one, when it was read; read
   * again under the credential's lock first. Meanwhile another process may have refreshed the
   * credential and stored a rotated refresh token: a blind write would put back the spent one,
   * and the next process to refresh would send it and get `invalid_grant`.
   */
  async #storeUnlessNewer(entry: PoolEntry): Promise<void> {
    const { store, lifetime } = this.#deps;
    let locked = false;
    try {
      await store.withLock(entry.id, async () => {
        locked = true;
        if (entry.removed) return;
        const token = await store.load(entry.id);
        if (!token || this.#takeTokens(entry, token)) await this.persist(entry);
      });
    } catch (err) {
      if (lifetime.aborted) return;
      if (locked) {
        this.failed(entry, "load", err);
        return;
      }
      // Another process has held the lock for the whole wait: it is refreshing this credential
      // and stores the result itself. Writing beside it is the overwrite the lock is there for.
      if (isLockContention(err)) return;
      // The lock cannot be had at all (as a refresh then does): go on without it, and alert.
      this.failed(entry, "lock", err);
      await this.persist(entry);
    }
  }

  #scheduleRetry(entry: PoolEntry, unsaved: Unsaved): void {
    const { lifetime, now } = this.#deps;
    if (lifetime.aborted || unsaved.cancelRetry) return;
    const delay = cappedExponentialMs(unsaved.failures, SAVE_RETRY_BASE_MS, SAVE_RETRY_MAX_MS);
    unsaved.cancelRetry = scheduleAt(now, now() + delay, () => {
      unsaved.cancelRetry = undefined;
      if (lifetime.aborted) return;
      // Under the lock and after a re-read, like a first write: while the store was away another
      // process may have stored a newer token, which a blind retry would overwrite.
      void this.#storeUnlessNewer(entry).then(() => {
        // Saved, or nothing to save (the store holds newer tokens, or another process is
        // refreshing): done, unless the write failed again and is due once more.
        if (!unsaved.cancelRetry && this.#unsaved.get(entry) === unsaved) {
          this.#unsaved.delete(entry);
        }
      });
    });
  }
}
