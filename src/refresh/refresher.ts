/**
 * Token refresh for the pool: when a token is due (the refresh strategy and a minimum interval),
 * one refresh call per credential however many callers need it (single flight), the store lock
 * and re-read that make it one refresh across processes, and what success and failure change.
 * @module
 */
import { onAbort, raceAbort } from "../abort.js";
import { type Clock, raceTimeout, safeDelay } from "../clock.js";
import { messageOf, RefreshError, redactSecrets } from "../errors.js";
import type { ManagerEvents, TypedEmitter } from "../events.js";
import type { Notifier } from "../monitoring/notifier.js";
import { isLockContention } from "../persistence/bounded-store.js";
import type { StoreSync } from "../persistence/store-sync.js";
import { adoptStored, storedIsNewer } from "../persistence/stored-token.js";
import type { PoolEntry } from "../pool/entry.js";
import type { CredentialPool } from "../pool/pool.js";
import type { StoredToken } from "../stores/types.js";
import type { Logger, OAuthCredentialSet, RefreshFunc, RefreshStrategy } from "../types.js";
import { ExternalSources, type Reread, type SourceReader } from "./external-source.js";
import { loggable, mergeRefreshed, rotatedRefreshToken, toRefreshError } from "./refresh-result.js";
import { effectiveBufferTime } from "./strategy.js";

/** What {@link Refresher} works with. */
export interface RefresherDeps {
  provider: string;
  pool: CredentialPool;
  now: Clock;
  logger: Logger;
  events: TypedEmitter<ManagerEvents>;
  notifier: Notifier;
  /** Aborted by `close()`: refreshes in flight stop, and none starts. */
  lifetime: AbortSignal;
  /** Without one, the refresh runs in memory only. */
  store: StoreSync | undefined;
  refreshFunc: RefreshFunc | undefined;
  /** Checked already. */
  strategy: RefreshStrategy;
  minRefreshIntervalMs: number;
  refreshTimeoutMs: number;
  /** Reads the source files of credentials another program refreshes. */
  readSource: SourceReader;
  /** The least time between two due re-reads of one external credential's file. */
  sourceRecheckMs: number;
  /** Told of every successful refresh (the refresh-anomaly check). */
  onRefreshed?: ((entry: PoolEntry, now: number) => void) | undefined;
}

/**
 * A refresh token whose exchange timed out: the token endpoint may have spent it, and the answer
 * holding the new one may have reached another process instead (a provider's reuse grace, a
 * retry through a proxy), which then stores it.
 */
interface UnsettledExchange {
  refreshToken: string;
  /** The store's version of the record when the exchange was abandoned; undefined if unknown. */
  storedVersion: number | undefined;
}

export class Refresher {
  readonly #deps: RefresherDeps;
  readonly #minIntervalMs: number;
  readonly #timeoutMs: number;
  /** The refresh in flight per credential, shared by every caller that needs one. */
  readonly #flights = new Map<PoolEntry, Promise<Readonly<OAuthCredentialSet>>>();
  /** Per credential, the last exchange that timed out, until a refresh settles it. */
  readonly #unsettled = new WeakMap<PoolEntry, UnsettledExchange>();
  #strategy: RefreshStrategy;
  /** The buffer when it does not depend on metrics: the common case, computed once. */
  #fixedBuffer: number | undefined;
  /** Refreshes made without the store's lock because the store could not lock at all. */
  #unlockedRefreshes = 0;
  readonly #sources: ExternalSources;

  constructor(deps: RefresherDeps) {
    this.#deps = deps;
    this.#sources = new ExternalSources(deps.readSource, deps.sourceRecheckMs);
    this.#minIntervalMs = deps.minRefreshIntervalMs;
    this.#timeoutMs = deps.refreshTimeoutMs;
    this.#strategy = deps.strategy;
    this.#fixedBuffer = fixedBuffer(deps.strategy);
  }

  /**
   * How many refreshes ran without the store's lock because the store could not lock at all:
   * each one may have raced a refresh of the same credential in another process.
   */
  get unlockedRefreshes(): number {
    return this.#unlockedRefreshes;
  }

  /** Whether a refresh function is configured. */
  get configured(): boolean {
    return this.#deps.refreshFunc !== undefined;
  }

  /**
   * Whether `entry`'s token can be renewed: by the refresh function, or for a credential another
   * program refreshes, by re-reading its source file.
   */
  canRefresh(entry: PoolEntry): boolean {
    return entry.external ? entry.view.source !== undefined : this.configured;
  }

  /** A copy of the strategy in force. */
  get strategy(): RefreshStrategy {
    return { ...this.#strategy };
  }

  /** @param strategy checked already */
  setStrategy(strategy: RefreshStrategy): void {
    this.#strategy = strategy;
    this.#fixedBuffer = fixedBuffer(strategy);
  }

  /** How long before expiry `entry` should be refreshed, by the strategy and its metrics. */
  bufferFor(entry: PoolEntry, now: number): number {
    return this.#fixedBuffer ?? effectiveBufferTime(this.#strategy, entry.metrics.forStrategy(now));
  }

  /** Refreshed successfully (an external credential's file read) less than the minimum interval ago. */
  recentlyRefreshed(entry: PoolEntry, now: number): boolean {
    if (entry.external) return this.#sources.recentlyChecked(entry, now);
    const last = entry.lastRefreshAt;
    return last !== undefined && now - last < this.#minIntervalMs;
  }

  /** The earliest time the next refresh of `entry` may start. */
  notBefore(entry: PoolEntry): number | undefined {
    if (entry.external) return this.#sources.notBefore(entry);
    const last = entry.lastRefreshAt;
    return last === undefined ? undefined : last + this.#minIntervalMs;
  }

  /** Whether a refresh of `entry` is running now. */
  isRefreshing(entry: PoolEntry): boolean {
    return this.#flights.has(entry);
  }

  /** Whether `entry`'s token must be refreshed before use: read on every request. */
  needsRefresh(entry: PoolEntry, now: number): boolean {
    if (entry.view.accessToken === "") return true;
    const expiresAt = entry.expiresAtMs;
    if (expiresAt === undefined) return false;
    if (expiresAt - now > this.bufferFor(entry, now)) return false;
    // A token endpoint that hands out tokens already inside the buffer must not make every
    // request refresh: wait at least the minimum interval between refreshes.
    return !this.recentlyRefreshed(entry, now);
  }

  /** A refresh a request needs; without a refresh function it fails (and counts) at once. */
  refreshForUse(entry: PoolEntry): Promise<Readonly<OAuthCredentialSet>> {
    if (!this.#deps.refreshFunc && !entry.external) {
      return Promise.reject(this.#onFailure(entry, notConfigured(entry.id)));
    }
    return this.refresh(entry);
  }

  /** Single flight: every caller needing `entry` refreshed shares one call of the refresh function. */
  refresh(entry: PoolEntry): Promise<Readonly<OAuthCredentialSet>> {
    const running = this.#flights.get(entry);
    if (running) return running;
    const { refreshFunc, lifetime } = this.#deps;
    if (!refreshFunc && !entry.external) return Promise.reject(notConfigured(entry.id));
    // After close() no refresh starts: it could not be aborted and close() would wait for it.
    if (lifetime.aborted) return Promise.reject(lifetime.reason);
    // Never the refresh function for a token another program refreshes: it would rotate the
    // refresh token under that program.
    const work =
      entry.external || !refreshFunc
        ? this.#fromSource(entry)
        : this.#coordinated(entry, refreshFunc);
    const flight = work.finally(() => {
      if (this.#flights.get(entry) === flight) this.#flights.delete(entry);
    });
    this.#flights.set(entry, flight);
    return flight;
  }

  /**
   * An external credential: its source file is read again and a newer token there taken. The
   * token in use stays while it is valid; once it has expired with no newer one in the file, the
   * file counts as stale: an alert, and the attempt fails over.
   */
  async #fromSource(entry: PoolEntry): Promise<Readonly<OAuthCredentialSet>> {
    const { now: clock, pool, notifier } = this.#deps;
    const source = entry.view.source;
    if (!source) {
      throw this.#onFailure(
        entry,
        new RefreshError(
          entry.id,
          "another program refreshes this credential, and it has no source file to re-read",
        ),
      );
    }
    let found: Reread;
    try {
      found = await this.#sources.reread(entry, source, clock());
    } catch (err) {
      throw this.#onFailure(
        entry,
        new RefreshError(entry.id, `cannot re-read its source file: ${messageOf(err)}`, {
          cause: err,
        }),
      );
    }
    const now = clock();
    if (found.kind === "unchanged" || entry.removed) return entry.view;
    if (found.kind === "newer") {
      entry.setView(found.cred);
      entry.health.recordRefreshSuccess();
      pool.update(entry, now);
      const view = entry.view;
      this.#emitRefreshed(entry.id, view);
      return view;
    }
    notifier.raise(entry.id, "External token source is stale", {
      reason: "source_stale",
      source_format: source.format,
      source_path: source.path,
      expired_at: found.expiredAt === undefined ? null : new Date(found.expiredAt).toISOString(),
    });
    throw this.#onFailure(
      entry,
      new RefreshError(entry.id, `its token expired and ${source.path} holds no newer one`),
    );
  }

  /**
   * With a store, the refresh runs under the store's lock for this credential after a re-read:
   * when another process refreshed meanwhile, its token is used and no refresh is made.
   * Without a store, when the store is down, or when its lock cannot be taken at all (as opposed
   * to being held by another process), it refreshes in memory.
   */
  async #coordinated(
    entry: PoolEntry,
    refreshFunc: RefreshFunc,
  ): Promise<Readonly<OAuthCredentialSet>> {
    const sync = this.#deps.store;
    if (!sync) return this.#refreshNow(entry, refreshFunc);
    const requested = entry.view;
    let locked = false;
    try {
      return await sync.withLock(entry, async () => {
        locked = true;
        const stored = await sync.read(entry);
        if (stored && this.#adoptIfFresh(entry, stored)) return entry.view;
        if (this.#replacedSince(entry, requested)) return entry.view;
        return this.#refreshNow(entry, refreshFunc);
      });
    } catch (err) {
      if (locked) throw err;
      // A lock that cannot be taken at all (a read-only or forbidden lock directory) is a store
      // failure, not another process refreshing: waiting for a holder that does not exist would
      // block every refresh, so go on from memory and alert.
      if (!isLockContention(err)) return this.#refreshUnlocked(entry, refreshFunc, sync, err);
      // Another holder kept the lock. If the store still answers, use its token when it has
      // one, never refresh beside it, since two refreshes of one rotating refresh token leave
      // one of the processes with a dead grant. If the store is down, go on from memory rather
      // than fail every request.
      const stored = await sync.probe(entry);
      if (!stored) return this.#refreshUnlocked(entry, refreshFunc, sync, err);
      if (stored.token && this.#adoptIfFresh(entry, stored.token)) return entry.view;
      throw this.#onFailure(
        entry,
        new RefreshError(entry.id, "another process holds the refresh lock", { cause: err }),
      );
    }
  }

  /**
   * Whether `entry` got other tokens, which need no refresh now, while this refresh waited for the
   * lock: another process's record was taken into memory meanwhile (by the check before this
   * process's first write of the credential), so the store no longer looks newer than memory,
   * yet the tokens this refresh was asked to replace are gone. Refreshing anyway would spend the
   * new refresh token for nothing, and the other processes holding it would get `invalid_grant`.
   */
  #replacedSince(entry: PoolEntry, requested: Readonly<OAuthCredentialSet>): boolean {
    const view = entry.view;
    if (
      view.accessToken === requested.accessToken &&
      view.refreshToken === requested.refreshToken
    ) {
      return false;
    }
    const now = this.#deps.now();
    if (this.needsRefresh(entry, now)) return false;
    entry.health.recordRefreshSuccess();
    this.#deps.pool.update(entry, now);
    return true;
  }

  /**
   * Refreshes from memory when the store cannot lock: reported as a `store_error` on "lock" (and
   * an alert) and counted, since another process may be refreshing the same credential now.
   */
  #refreshUnlocked(
    entry: PoolEntry,
    refreshFunc: RefreshFunc,
    sync: StoreSync,
    err: unknown,
  ): Promise<Readonly<OAuthCredentialSet>> {
    sync.failed(entry, "lock", err);
    this.#unlockedRefreshes++;
    return this.#refreshNow(entry, refreshFunc);
  }

  /**
   * Takes a newer stored token into memory (another process refreshed or rotated it).
   * @returns true when the adopted token needs no refresh now
   */
  #adoptIfFresh(entry: PoolEntry, stored: StoredToken): boolean {
    if (!storedIsNewer(stored, entry)) return false;
    return this.#adopt(entry, stored);
  }

  /**
   * Takes a stored token into memory.
   * @returns true when the adopted token needs no refresh now
   */
  #adopt(entry: PoolEntry, stored: StoredToken): boolean {
    const now = this.#deps.now();
    adoptStored(entry, stored);
    if (this.needsRefresh(entry, now)) return false;
    entry.health.recordRefreshSuccess();
    this.#deps.pool.update(entry, now);
    return true;
  }

  async #refreshNow(
    entry: PoolEntry,
    refreshFunc: RefreshFunc,
    afterRotationElsewhere = false,
  ): Promise<Readonly<OAuthCredentialSet>> {
    const { lifetime, store } = this.#deps;
    if (await this.#adoptAfterTimeout(entry)) return entry.view;
    const before = entry.view;
    const controller = new AbortController();
    // Shared with every other refresh in flight: one listener on the lifetime signal in all.
    const stopWatchingClose = onAbort(lifetime, () => controller.abort(lifetime.reason));
    // Not unref'd: a refresh that hangs without I/O must end in this timeout, not in the process
    // exiting with its callers' promises pending. It is cleared as soon as the refresh settles,
    // so at most it holds the process for the timeout. A background refresh with no caller keeps
    // it ref'd too: it is bounded the same way, and a caller may join the refresh at any moment.
    const timer = setTimeout(
      () => controller.abort(new DOMException("token refresh timed out", "TimeoutError")),
      safeDelay(this.#timeoutMs),
    );
    const work = Promise.resolve().then(() => refreshFunc(before, controller.signal));
    let result: OAuthCredentialSet;
    try {
      result = await raceAbort(work, controller.signal);
    } catch (err) {
      // Cut off by the timeout or close(), the call may still answer: the token endpoint may
      // have spent the refresh token it was sent, and its answer then holds the only live one.
      if (controller.signal.aborted && err === controller.signal.reason) {
        this.#takeLateAnswer(entry, before, work);
        if (!lifetime.aborted) await this.#rememberUnsettled(entry, before);
      }
      const error = toRefreshError(entry.id, err, entry.secrets());
      // A newer refresh token arrived while this call ran (a late answer to an abandoned call):
      // the refusal is about the one it replaced.
      if (error.permanent && !afterRotationElsewhere && !entry.removed) {
        if (entry.view.refreshToken !== before.refreshToken) {
          if (!this.needsRefresh(entry, this.#deps.now())) return entry.view;
          return this.#refreshNow(entry, refreshFunc, true);
        }
      }
      // invalid_grant may only mean another process rotated the refresh token first: re-read
      // the store before declaring the credential dead, and take only a newer record.
      if (error.permanent && store && !afterRotationElsewhere) {
        const stored = (await store.probe(entry))?.token;
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
      stopWatchingClose();
    }

    const now = this.#deps.now();
    let merged: OAuthCredentialSet;
    try {
      merged = mergeRefreshed(before, result, now);
    } catch (err) {
      const error = toRefreshError(entry.id, err, entry.secrets());
      await this.#keepRotatedRefreshToken(entry, before, result, now);
      throw this.#onFailure(entry, error);
    }
    return this.#applyRefreshed(entry, merged, now);
  }

  /**
   * Notes a refresh token whose exchange was abandoned at its timeout, with the store's version of
   * the record then, so the next refresh can tell a record written since from an older one.
   */
  async #rememberUnsettled(entry: PoolEntry, before: Readonly<OAuthCredentialSet>): Promise<void> {
    const store = this.#deps.store;
    if (!store || !before.refreshToken) return;
    const answer = await store.probe(entry);
    this.#unsettled.set(entry, {
      refreshToken: before.refreshToken,
      // No record yet counts as version 0; a store that did not answer leaves it unknown.
      storedVersion: answer && (answer.token?.version ?? 0),
    });
  }

  /**
   * Before the refresh token of an exchange that timed out is sent again: re-reads the store, and
   * takes a different refresh token written there since (another process has the new one; the
   * old one may be spent, and a provider that detects reuse revokes the whole grant). Whether it
   * was written since is told by the store's version, not by comparing refresh times, which come
   * from the clocks of different machines. Without a store nothing changes.
   * @returns true when the adopted token needs no refresh now
   */
  async #adoptAfterTimeout(entry: PoolEntry): Promise<boolean> {
    const unsettled = this.#unsettled.get(entry);
    const store = this.#deps.store;
    if (!unsettled || !store) return false;
    if (unsettled.refreshToken !== entry.view.refreshToken) {
      this.#unsettled.delete(entry);
      return false;
    }
    const stored = (await store.probe(entry))?.token;
    if (!stored?.refreshToken || stored.refreshToken === unsettled.refreshToken) return false;
    const writtenSince =
      unsettled.storedVersion === undefined
        ? storedIsNewer(stored, entry)
        : (stored.version ?? 0) > unsettled.storedVersion;
    if (!writtenSince || entry.removed) return false;
    this.#unsettled.delete(entry);
    // Their access token may be due too: the refresh then goes on with their refresh token.
    return this.#adopt(entry, stored);
  }

  /** A refresh succeeded: the new tokens serve, are stored, and are announced. */
  async #applyRefreshed(
    entry: PoolEntry,
    merged: OAuthCredentialSet,
    now: number,
  ): Promise<Readonly<OAuthCredentialSet>> {
    this.#unsettled.delete(entry);
    entry.setView(merged);
    entry.health.recordRefreshSuccess();
    entry.metrics.recordRefresh(now);
    this.#deps.pool.update(entry, now);
    this.#deps.onRefreshed?.(entry, now);
    const view = entry.view;
    // The store first: a rotated refresh token must outlive this process before anything else.
    await this.#deps.store?.persist(entry);
    await this.#notify(entry, view);
    this.#emitRefreshed(entry.id, view);
    this.#deps.notifier.publish("refresh", entry.id, "Token refreshed successfully", {
      refresh_count: view.refreshCount ?? 0,
      expires_at: view.expiresAt?.toISOString() ?? null,
    });
    return view;
  }

  /**
   * Takes the answer of a refresh call abandoned at its timeout, when it comes and while nothing
   * newer has replaced the refresh token it was sent. Not after close().
   */
  #takeLateAnswer(
    entry: PoolEntry,
    before: Readonly<OAuthCredentialSet>,
    work: Promise<OAuthCredentialSet>,
  ): void {
    work
      .then(async (late) => {
        const { lifetime, now: clock } = this.#deps;
        if (lifetime.aborted || entry.removed) return;
        if (entry.view.refreshToken !== before.refreshToken) return;
        const now = clock();
        let merged: OAuthCredentialSet;
        try {
          merged = mergeRefreshed(entry.view, late, now);
        } catch {
          await this.#keepRotatedRefreshToken(entry, before, late, now);
          return;
        }
        await this.#applyRefreshed(entry, merged, now);
      })
      .catch(() => {
        // The abandoned call failed after all: its failure was counted at the timeout.
      });
  }

  /**
   * After a refused refresh result: a new refresh token in it replaces the spent one, in memory,
   * in the store and through `onTokenRefresh`, with the time of the exchange (so other processes
   * take it too). The old access token stays; the minimum interval between refreshes then keeps a token endpoint that
   * answers with unusable tokens from being called on every request.
   */
  async #keepRotatedRefreshToken(
    entry: PoolEntry,
    before: Readonly<OAuthCredentialSet>,
    result: unknown,
    now: number,
  ): Promise<void> {
    const refreshToken = rotatedRefreshToken(before, result);
    if (refreshToken === undefined || entry.removed) return;
    entry.setView({ ...entry.view, refreshToken, lastRefresh: new Date(now) });
    await this.#deps.store?.persist(entry);
    await this.#notify(entry, entry.view);
  }

  /** The `refresh` event for a token that `id` now uses, whoever obtained it. */
  #emitRefreshed(id: string, view: Readonly<OAuthCredentialSet>): void {
    this.#deps.events.emit("refresh", {
      credentialId: id,
      expiresAt: view.expiresAt && new Date(view.expiresAt.getTime()),
      refreshCount: view.refreshCount ?? 0,
    });
  }

  /** Awaits the credential's `onTokenRefresh`; a failing callback is reported, the token kept. */
  async #notify(entry: PoolEntry, view: Readonly<OAuthCredentialSet>): Promise<void> {
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
      const safe = loggable(redactSecrets(err, entry.secrets()));
      this.#deps.logger.error(
        `oauthmanager: onTokenRefresh failed for credential ${entry.id}`,
        safe,
      );
      this.#deps.events.emit("store_error", {
        credentialId: entry.id,
        operation: "onTokenRefresh",
        error: safe,
      });
    }
  }

  /** Counts a failed refresh on the refresh track, reports it, and returns the error to throw. */
  #onFailure(entry: PoolEntry, error: RefreshError): RefreshError {
    const { lifetime, now, pool, logger, provider, events, notifier } = this.#deps;
    if (lifetime.aborted) return error;
    const at = now();
    if (!entry.removed) {
      entry.health.recordRefreshFailure(at, error.permanent);
      entry.metrics.recordRefreshFailure();
      pool.update(entry, at);
    }
    if (error.permanent) {
      logger.warn(
        `oauthmanager: credential ${entry.id} of ${provider} needs re-authentication; it is out of the pool`,
      );
    }
    events.emit("refresh_failure", {
      credentialId: entry.id,
      error,
      permanent: error.permanent,
      consecutiveFailures: entry.health.refreshFailCount,
    });
    if (notifier.alertsOnRefreshFailure) {
      const details = {
        error: error.message,
        oauth_error: error.oauthError ?? null,
        permanent: error.permanent,
        consecutive_failures: entry.health.refreshFailCount,
      };
      notifier.raise(entry.id, "Token refresh failed", { ...details, reason: "refresh_failed" });
      if (error.permanent) {
        notifier.raise(entry.id, "Credential needs re-authentication", {
          ...details,
          reason: "needs_reauth",
        });
      }
    }
    return error;
  }
}

/** The buffer of a strategy that does not adapt to metrics, else undefined. */
function fixedBuffer(strategy: RefreshStrategy): number | undefined {
  return strategy.adaptiveBuffer || strategy.preemptiveRefresh ? undefined : strategy.bufferTime;
}

function notConfigured(id: string): RefreshError {
  return new RefreshError(id, `token refresh not configured for credential ${id}`);
}
