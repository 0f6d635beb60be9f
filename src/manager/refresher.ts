/**
 * Token refresh for the pool: when a token is due (the refresh strategy and a minimum interval),
 * one refresh call per credential however many callers need it (single flight), the store lock
 * and re-read that make it one refresh across processes, and what success and failure change.
 * @module
 */
import { raceAbort } from "../abort.js";
import { raceTimeout, safeDelay } from "../clock.js";
import { RefreshError, redactSecrets } from "../errors.js";
import { mergeRefreshed, toRefreshError } from "../refresh/refresh-result.js";
import {
  defaultRefreshStrategy,
  effectiveBufferTime,
  validateRefreshStrategy,
} from "../refresh/strategy.js";
import type { StoredToken } from "../stores/types.js";
import type { OAuthCredentialSet, RefreshFunc, RefreshStrategy } from "../types.js";
import { type ManagerContext, publish, raise } from "./context.js";
import type { CredentialEntry } from "./credential-entry.js";
import { storedIsNewer } from "./persistence.js";
import { adoptStored, type StoreSync } from "./store-sync.js";

export interface RefresherOptions {
  refreshFunc: RefreshFunc | undefined;
  minRefreshIntervalMs: number;
  refreshTimeoutMs: number;
  store: StoreSync | undefined;
}

export class Refresher {
  readonly #ctx: ManagerContext;
  readonly #refreshFunc: RefreshFunc | undefined;
  readonly #minIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #store: StoreSync | undefined;
  #strategy: RefreshStrategy = defaultRefreshStrategy();
  /** The buffer when it does not depend on metrics: the common case, computed once. */
  #fixedBuffer: number | undefined;

  constructor(ctx: ManagerContext, options: RefresherOptions) {
    this.#ctx = ctx;
    this.#refreshFunc = options.refreshFunc;
    this.#minIntervalMs = options.minRefreshIntervalMs;
    this.#timeoutMs = options.refreshTimeoutMs;
    this.#store = options.store;
    this.setStrategy(undefined);
  }

  /** Whether a refresh function is configured. */
  get configured(): boolean {
    return this.#refreshFunc !== undefined;
  }

  get strategy(): RefreshStrategy {
    return { ...this.#strategy };
  }

  /** @param strategy undefined resets to the default; others are validated first */
  setStrategy(strategy: RefreshStrategy | undefined): void {
    this.#strategy =
      strategy === undefined ? defaultRefreshStrategy() : validateRefreshStrategy(strategy);
    this.#fixedBuffer =
      this.#strategy.adaptiveBuffer || this.#strategy.preemptiveRefresh
        ? undefined
        : this.#strategy.bufferTime;
  }

  /** How long before expiry `entry` should be refreshed, by the strategy and its metrics. */
  bufferFor(entry: CredentialEntry, now: number): number {
    return this.#fixedBuffer ?? effectiveBufferTime(this.#strategy, entry.metrics.forStrategy(now));
  }

  /** Refreshed successfully less than the minimum interval ago. */
  recentlyRefreshed(entry: CredentialEntry, now: number): boolean {
    return entry.lastRefreshAt !== undefined && now - entry.lastRefreshAt < this.#minIntervalMs;
  }

  /** The earliest time the next refresh of `entry` may start. */
  notBefore(entry: CredentialEntry): number | undefined {
    return entry.lastRefreshAt === undefined
      ? undefined
      : entry.lastRefreshAt + this.#minIntervalMs;
  }

  needsRefresh(entry: CredentialEntry, now: number): boolean {
    if (entry.view.accessToken === "") return true;
    const expiresAt = entry.expiresAtMs;
    if (expiresAt === undefined) return false;
    if (expiresAt - now > this.bufferFor(entry, now)) return false;
    // A token endpoint that hands out tokens already inside the buffer must not make every
    // request refresh (F7): wait at least the minimum interval between refreshes.
    return !this.recentlyRefreshed(entry, now);
  }

  /** A refresh a request needs; without a refresh function it fails (and counts) at once. */
  refreshForUse(entry: CredentialEntry): Promise<Readonly<OAuthCredentialSet>> {
    if (!this.#refreshFunc) {
      return Promise.reject(this.#onFailure(entry, notConfigured(entry.id)));
    }
    return this.refresh(entry);
  }

  /** Single flight: every caller needing `entry` refreshed shares one call of the refresh function. */
  refresh(entry: CredentialEntry): Promise<Readonly<OAuthCredentialSet>> {
    if (entry.refreshing) return entry.refreshing;
    const refreshFunc = this.#refreshFunc;
    if (!refreshFunc) return Promise.reject(notConfigured(entry.id));
    // After close() no refresh starts: it could not be aborted and close() would wait for it.
    if (this.#ctx.lifetime.aborted) return Promise.reject(this.#ctx.lifetime.reason);
    const flight = this.#coordinated(entry, refreshFunc).finally(() => {
      if (entry.refreshing === flight) entry.refreshing = undefined;
    });
    entry.refreshing = flight;
    return flight;
  }

  /**
   * With a store, the refresh runs under the store's lock for this credential after a re-read:
   * when another process refreshed meanwhile, its token is used and no refresh is made (F2).
   * Without a store, or when the store is down, it refreshes in memory.
   */
  async #coordinated(
    entry: CredentialEntry,
    refreshFunc: RefreshFunc,
  ): Promise<Readonly<OAuthCredentialSet>> {
    const sync = this.#store;
    if (!sync) return this.#refreshNow(entry, refreshFunc);
    let locked = false;
    try {
      return await sync.store.withLock(entry.id, async () => {
        locked = true;
        const stored = await sync.store.load(entry.id).catch((err: unknown) => {
          sync.failed(entry, "load", err);
          return undefined;
        });
        if (stored && this.#adoptIfFresh(entry, stored)) return entry.view;
        return this.#refreshNow(entry, refreshFunc);
      });
    } catch (err) {
      if (locked) throw err;
      // The lock could not be had. If the store still answers, another process holds the lock:
      // use its token when it has one, never refresh beside it (F21). If the store is down, go
      // on from memory rather than fail every request.
      const stored = await sync.store.load(entry.id).then(
        (token) => ({ token }),
        () => undefined,
      );
      if (!stored) {
        sync.failed(entry, "lock", err);
        return this.#refreshNow(entry, refreshFunc);
      }
      if (stored.token && this.#adoptIfFresh(entry, stored.token)) return entry.view;
      throw this.#onFailure(
        entry,
        new RefreshError(entry.id, "another process holds the refresh lock", { cause: err }),
      );
    }
  }

  /**
   * Takes a newer stored token into memory (another process refreshed or rotated it).
   * @returns true when the adopted token needs no refresh now
   */
  #adoptIfFresh(entry: CredentialEntry, stored: StoredToken): boolean {
    if (!storedIsNewer(stored, entry)) return false;
    const now = this.#ctx.now();
    adoptStored(entry, stored);
    if (this.needsRefresh(entry, now)) return false;
    entry.health.recordRefreshSuccess();
    this.#ctx.pool.update(entry, now);
    return true;
  }

  async #refreshNow(
    entry: CredentialEntry,
    refreshFunc: RefreshFunc,
    afterRotationElsewhere = false,
  ): Promise<Readonly<OAuthCredentialSet>> {
    const ctx = this.#ctx;
    const before = entry.view;
    const controller = new AbortController();
    const onClose = () => controller.abort(ctx.lifetime.reason);
    ctx.lifetime.addEventListener("abort", onClose, { once: true });
    const timer = setTimeout(
      () => controller.abort(new DOMException("token refresh timed out", "TimeoutError")),
      safeDelay(this.#timeoutMs),
    );
    timer.unref();
    let merged: OAuthCredentialSet;
    try {
      const result = await raceAbort(
        Promise.resolve().then(() => refreshFunc(before, controller.signal)),
        controller.signal,
      );
      merged = mergeRefreshed(before, result, ctx.now());
    } catch (err) {
      const error = toRefreshError(entry.id, err, entry.secrets());
      // invalid_grant may only mean another process rotated the refresh token first (F3):
      // re-read the store before declaring the credential dead, and take only a newer record.
      if (error.permanent && this.#store && !afterRotationElsewhere) {
        const stored = await this.#store.store.load(entry.id).catch(() => undefined);
        if (
          stored?.refreshToken &&
          stored.refreshToken !== before.refreshToken &&
          storedIsNewer(stored, entry)
        ) {
          if (this.#adoptIfFresh(entry, stored)) return entry.view;
          // Their access token is spent too: one more refresh, with their refresh token.
          return this.#refreshNow(entry, refreshFunc, true);
        }
      }
      throw this.#onFailure(entry, error);
    } finally {
      clearTimeout(timer);
      ctx.lifetime.removeEventListener("abort", onClose);
    }

    const now = ctx.now();
    entry.setView(merged);
    entry.lastRefreshAt = now;
    entry.health.recordRefreshSuccess();
    entry.metrics.recordRefresh(now);
    ctx.pool.update(entry, now);
    const view = entry.view;
    // The store first: a rotated refresh token must outlive this process before anything else.
    await this.#store?.persist(entry);
    await this.#notify(entry, view);
    ctx.events.emit("refresh", {
      credentialId: entry.id,
      expiresAt: view.expiresAt && new Date(view.expiresAt.getTime()),
      refreshCount: view.refreshCount ?? 0,
    });
    publish(ctx, "refresh", entry.id, "Token refreshed successfully", {
      refresh_count: view.refreshCount ?? 0,
      expires_at: view.expiresAt?.toISOString() ?? null,
    });
    return view;
  }

  /** Awaits the credential's `onTokenRefresh`; a failing callback is reported, the token kept. */
  async #notify(entry: CredentialEntry, view: Readonly<OAuthCredentialSet>): Promise<void> {
    const callback = view.onTokenRefresh;
    if (!callback) return;
    try {
      // Bounded like the refresh itself: every caller sharing this refresh waits for it.
      await raceTimeout(
        Promise.resolve().then(() =>
          callback(
            entry.id,
            view.accessToken,
            view.refreshToken ?? "",
            view.expiresAt && new Date(view.expiresAt.getTime()),
          ),
        ),
        this.#timeoutMs,
        () => new Error(`onTokenRefresh did not finish within ${this.#timeoutMs} ms`),
      );
    } catch (err) {
      // The fresh token stays in use: losing it would be worse than failing to persist it.
      const safe = redactSecrets(err, entry.secrets());
      this.#ctx.logger.error(
        `oauthmanager: onTokenRefresh failed for credential ${entry.id}`,
        safe,
      );
      this.#ctx.events.emit("store_error", {
        credentialId: entry.id,
        operation: "onTokenRefresh",
        error: safe,
      });
    }
  }

  /** Counts a failed refresh on the refresh track, reports it, and returns the error to throw. */
  #onFailure(entry: CredentialEntry, error: RefreshError): RefreshError {
    const ctx = this.#ctx;
    if (ctx.isClosed()) return error;
    const now = ctx.now();
    if (!entry.removed) {
      entry.health.recordRefreshFailure(now, error.permanent);
      entry.metrics.recordRefreshFailure();
      ctx.pool.update(entry, now);
    }
    if (error.permanent) {
      ctx.logger.warn(
        `oauthmanager: credential ${entry.id} of ${ctx.provider} needs re-authentication; it is out of the pool`,
      );
    }
    ctx.events.emit("refresh_failure", {
      credentialId: entry.id,
      error,
      permanent: error.permanent,
      consecutiveFailures: entry.health.refreshFailCount,
    });
    if (ctx.monitor.getConfig()?.alertOnRefreshFailure) {
      const details = {
        error: error.message,
        oauth_error: error.oauthError ?? null,
        permanent: error.permanent,
        consecutive_failures: entry.health.refreshFailCount,
      };
      raise(ctx, entry.id, "Token refresh failed", { ...details, reason: "refresh_failed" });
      if (error.permanent) {
        raise(ctx, entry.id, "Credential needs re-authentication", {
          ...details,
          reason: "needs_reauth",
        });
      }
    }
    return error;
  }
}

function notConfigured(id: string): RefreshError {
  return new RefreshError(id, `token refresh not configured for credential ${id}`);
}
