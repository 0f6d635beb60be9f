/**
 * Keeping the pool and a token store in step: load before first use, write after each refresh
 * and rotation step, retry failed writes, and report every failure while going on from memory.
 * @module
 */
import { scheduleAt } from "../clock.js";
import { messageOf, redactSecrets } from "../errors.js";
import { cappedExponentialMs } from "../health/backoff.js";
import type { StoredToken } from "../stores/types.js";
import { type ManagerContext, raise } from "./context.js";
import type { CredentialEntry } from "./credential-entry.js";
import {
  fromStoredRotation,
  type Persistence,
  storedIsNewer,
  toStored,
  withStoredTokens,
} from "./persistence.js";

/** A failed save of a refreshed token is retried after 1 s, 2 s, 4 s … up to every 5 min. */
const SAVE_RETRY_BASE_MS = 1_000;
const SAVE_RETRY_MAX_MS = 300_000;

export class StoreSync {
  readonly #ctx: ManagerContext;
  readonly store: Persistence;

  constructor(ctx: ManagerContext, store: Persistence) {
    this.#ctx = ctx;
    this.store = store;
  }

  /** Loads every stored record: newer tokens and stored rotation state win; new ones are stored. */
  async load(): Promise<void> {
    const stored = await this.store.loadAll();
    for (const entry of this.#ctx.pool.entries.values()) {
      const token = stored.get(entry.id);
      if (token) this.#apply(entry, token);
      else void this.persist(entry);
    }
  }

  /** A credential added while serving: take its stored state if there is one, else store it. */
  async adoptOrStore(entry: CredentialEntry): Promise<void> {
    try {
      const token = await this.store.load(entry.id);
      if (token) this.#apply(entry, token);
      else await this.persist(entry);
    } catch (err) {
      this.failed(entry, "load", err);
    }
  }

  /**
   * Writes `entry` to the store. On failure the token stays in use from memory, the save is
   * retried with backoff, and a critical alert goes out: a rotated refresh token must never be
   * lost silently (F6).
   */
  async persist(entry: CredentialEntry): Promise<void> {
    if (entry.removed) return;
    try {
      await this.store.save(entry.id, toStored(entry.view, entry.rotation));
      entry.saveFailures = 0;
    } catch (err) {
      entry.saveFailures++;
      this.failed(entry, "save", err);
      this.#scheduleRetry(entry);
    }
  }

  /** Deletes a credential that left the pool; a failure is reported, never thrown. */
  forget(entry: CredentialEntry): void {
    entry.saveRetry?.();
    entry.saveRetry = undefined;
    this.store.delete(entry.id).catch((err: unknown) => this.failed(undefined, "delete", err));
  }

  /** Stops the save retries; returns the credentials whose last save failed, for a final try. */
  stopRetries(): CredentialEntry[] {
    const unsaved: CredentialEntry[] = [];
    for (const entry of this.#ctx.pool.entries.values()) {
      entry.saveRetry?.();
      entry.saveRetry = undefined;
      if (entry.saveFailures > 0) unsaved.push(entry);
    }
    return unsaved;
  }

  /** Reports a store failure: logged, a `store_error` event, and an alert. */
  failed(entry: CredentialEntry | undefined, operation: string, err: unknown): void {
    const ctx = this.#ctx;
    const safe = entry ? redactSecrets(err, entry.secrets()) : err;
    const id = entry?.id;
    const critical = operation === "save";
    ctx.logger.error(
      `oauthmanager: token store ${operation} failed${id ? ` for credential ${id}` : ""}; ${
        critical
          ? "the refreshed token is kept in memory and the save retried"
          : "going on from memory"
      }: ${messageOf(safe)}`,
    );
    ctx.events.emit("store_error", { credentialId: id, operation, error: safe });
    raise(
      ctx,
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

  #apply(entry: CredentialEntry, token: StoredToken): void {
    if (token.rotation) {
      entry.rotation = fromStoredRotation(token.rotation, entry.rotation.rotationNotified);
    }
    if (storedIsNewer(token, entry)) {
      adoptStored(entry, token);
    } else if (
      token.accessToken !== entry.view.accessToken ||
      token.refreshToken !== entry.view.refreshToken
    ) {
      // The configuration is newer (a re-authentication, a changed key): store it, so no
      // process takes the stale record back in later.
      void this.persist(entry);
    }
  }

  #scheduleRetry(entry: CredentialEntry): void {
    const ctx = this.#ctx;
    if (ctx.isClosed() || entry.saveRetry) return;
    const delay = cappedExponentialMs(entry.saveFailures, SAVE_RETRY_BASE_MS, SAVE_RETRY_MAX_MS);
    entry.saveRetry = scheduleAt(ctx.now, ctx.now() + delay, () => {
      entry.saveRetry = undefined;
      if (!ctx.isClosed()) void this.persist(entry);
    });
  }
}

/** Puts a stored record's tokens into memory (identity and callbacks stay the configured ones). */
export function adoptStored(entry: CredentialEntry, token: StoredToken): void {
  entry.setView(withStoredTokens(entry.view, token));
  if (entry.view.lastRefresh) entry.lastRefreshAt = entry.view.lastRefresh.getTime();
}
