import { limitedWindows, UsageBudget } from "../budget/usage-budget.js";
import type { Clock } from "../clock.js";
import { describe } from "../describe.js";
import { ClosedError, type PooledKind, RefreshError, redactSecrets } from "../errors.js";
import { type ManagerEvents, TypedEmitter } from "../events.js";
import { healthSummaryToWire } from "../metrics/json-export.js";
import { createCollector, type PrometheusCollector } from "../metrics/prometheus.js";
import { defaultMonitoringConfig } from "../monitoring/config.js";
import { Monitor } from "../monitoring/monitor.js";
import { Notifier } from "../monitoring/notifier.js";
import { BoundedStore } from "../persistence/bounded-store.js";
import { StoreSync } from "../persistence/store-sync.js";
import { cloneCredential } from "../pool/credential-copy.js";
import { CredentialPool } from "../pool/pool.js";
import { readCredentialSource } from "../providers/import.js";
import { RefreshAnomaly, resolveRefreshAnomaly } from "../refresh/refresh-anomaly.js";
import { Refresher } from "../refresh/refresher.js";
import { defaultRefreshStrategy, validateRefreshStrategy } from "../refresh/strategy.js";
import { Upkeep } from "../refresh/upkeep.js";
import { UpkeepPlan } from "../refresh/upkeep-plan.js";
import { defaultRotationPolicy, validateRotationPolicy } from "../rotation/policy.js";
import { Rotation } from "../rotation/rotation.js";
import { SharedHealth } from "../sharing/shared-health.js";
import { StoreWatch } from "../sharing/store-watch.js";
import type {
  CredentialHealthInfo,
  CredentialMetrics,
  ExecuteOptions,
  ExecuteResult,
  HealthSummary,
  Logger,
  MonitoringConfig,
  OAuthCredentialSet,
  Operation,
  PrometheusMetrics,
  RefreshFunc,
  RefreshStrategy,
  RotationPolicy,
  RotationState,
  WebhookEvent,
} from "../types.js";
import { AlertCheck } from "./alert-check.js";
import { FailoverLoop } from "./failover.js";
import { type OAuthKeyManagerOptions, resolveOptions } from "./options.js";
import { Prober } from "./prober.js";
import {
  healthInfo,
  healthSummary,
  prometheusSample,
  prometheusStruct,
  withScopedCooldowns,
} from "./reporting.js";

/** The store lock waits this much longer than a refresh may take. */
const LOCK_MARGIN_MS = 5_000;

/**
 * Makes `manager` a pool of API keys: operations get the key itself, and errors speak of API
 * keys. For `KeyManager` only; set once, right after construction.
 * @internal
 */
export let servesApiKeys: (manager: OAuthKeyManager) => void;

/**
 * A pool of OAuth credentials for one provider: round-robin (or another selection) over the
 * healthy ones, tokens refreshed before they expire with one refresh per credential however many
 * callers need it, failover with backoff, and per-credential metrics.
 *
 * @example
 * const manager = new OAuthKeyManager("gemini", credentials, refreshFunc);
 * const { result } = await manager.executeWithFailover(async (cred, signal) => {
 *   const res = await fetch(url, { headers: { authorization: `Bearer ${cred.accessToken}` }, signal });
 *   if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status, headers: res.headers });
 *   return { result: await res.json() };
 * });
 */
export class OAuthKeyManager {
  readonly providerName: string;
  readonly #now: Clock;
  readonly #logger: Logger;
  readonly #pool: CredentialPool;
  readonly #events: TypedEmitter<ManagerEvents>;
  /** Aborted by close(): refreshes and store waits stop. */
  readonly #lifetime = new AbortController();
  /** The request path: select, refresh if due, operate, classify, record, fail over. */
  readonly #loop: FailoverLoop;
  /** What the pool holds, as errors name it. */
  #kind: PooledKind = "OAuth credential";
  /** Added to every series this manager exports. */
  readonly #metricsLabels: Readonly<Record<string, string>>;
  readonly #monitor: Monitor;
  readonly #refresher: Refresher;
  readonly #storeSync: StoreSync | undefined;
  /** With a store shared by several processes: their changes and health marks, taken here. */
  readonly #storeWatch: StoreWatch | undefined;
  readonly #rotation: Rotation;
  readonly #alerts: AlertCheck;
  readonly #upkeep: Upkeep;
  /** Checks credentials whose backoff ended, once started; undefined without a `probe`. */
  readonly #prober: Prober | undefined;
  /** Usage budgets, when configured. */
  readonly #budget: UsageBudget | undefined;
  #collector: PrometheusCollector | undefined;
  #readyPromise: Promise<void> | undefined;
  /** The store was loaded (or there is none): the hot path checks only this. */
  #loaded: boolean;
  #loadFailureReported = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  static {
    servesApiKeys = (manager) => {
      manager.#kind = "API key";
      manager.#loop.servesApiKeys();
    };
  }

  /**
   * @param providerName Names the provider in errors, metrics and alerts.
   * @param credentials Copied in; an empty list is allowed (add credentials later).
   * @param refreshFunc Exchanges a refresh token for a new access token. Without it, a token
   *   that needs refreshing fails with a `RefreshError` and the manager fails over.
   * @throws {ConfigError} for duplicate or empty ids, a credential with neither token, an
   *   invalid `expiresAt` or a negative weight, naming every offending credential.
   * @throws {TypeError} for options of the wrong type.
   */
  constructor(
    providerName: string,
    credentials: readonly OAuthCredentialSet[] = [],
    refreshFunc?: RefreshFunc,
    options: OAuthKeyManagerOptions = {},
  ) {
    if (typeof providerName !== "string" || providerName.trim() === "") {
      throw new TypeError(
        `Expected \`providerName\` to be a non-empty string, got ${describe(providerName)}`,
      );
    }
    if (!Array.isArray(credentials)) {
      throw new TypeError(`Expected \`credentials\` to be an array, got ${describe(credentials)}`);
    }
    if (refreshFunc !== undefined && typeof refreshFunc !== "function") {
      throw new TypeError(
        `Expected \`refreshFunc\` to be a function, got ${describe(refreshFunc)}`,
      );
    }
    const resolved = resolveOptions(options);
    this.providerName = providerName;
    const now = resolved.now;
    const logger = resolved.logger;
    const lifetime = this.#lifetime.signal;
    const events = new TypedEmitter<ManagerEvents>(logger);
    const pool = new CredentialPool(resolved.selector, resolved.health, resolved.now, {
      halfOpen: resolved.failover.halfOpen,
      maxScopes: resolved.failover.maxScopes,
    });
    const monitor = new Monitor({ provider: providerName, now, logger });
    const notifier = new Notifier(monitor, now, events);
    this.#now = now;
    this.#logger = logger;
    this.#events = events;
    this.#pool = pool;
    this.#monitor = monitor;
    this.#rotation = new Rotation({
      pool,
      now,
      logger,
      events,
      notifier,
      policy: resolved.rotationPolicy,
    });
    // Built only when some window is limited: with none, it would count for nothing.
    this.#budget =
      resolved.budgets === undefined || limitedWindows(resolved.budgets).length === 0
        ? undefined
        : new UsageBudget({
            pool,
            notifier,
            now,
            options: resolved.budgets,
            save:
              resolved.store && ((entry) => this.#storeSync?.saveUsage(entry) ?? Promise.resolve()),
          });
    const store =
      resolved.store &&
      new BoundedStore(resolved.store, providerName, {
        timeoutMs: resolved.storeTimeoutMs,
        lockTimeoutMs: resolved.refreshTimeoutMs + LOCK_MARGIN_MS,
      });
    this.#storeSync = store
      ? new StoreSync({
          store,
          pool,
          rotation: this.#rotation,
          now,
          logger,
          events,
          notifier,
          lifetime,
          usage: this.#budget,
        })
      : undefined;
    this.#loaded = this.#storeSync === undefined;
    const anomaly =
      resolved.refreshAnomaly === undefined
        ? undefined
        : new RefreshAnomaly({
            pool,
            notifier,
            options: resolveRefreshAnomaly(resolved.refreshAnomaly, providerName),
            bufferFor: (entry, at) => this.#refresher.bufferFor(entry, at),
          });
    this.#storeWatch =
      store?.shares && this.#storeSync
        ? new StoreWatch({
            store,
            sync: this.#storeSync,
            pool,
            health: new SharedHealth({ store, pool, now, events, lifetime }),
            now,
            lifetime,
          })
        : undefined;
    this.#refresher = new Refresher({
      provider: providerName,
      pool,
      now,
      logger,
      events,
      notifier,
      lifetime,
      store: this.#storeSync,
      refreshFunc,
      strategy: resolved.refreshStrategy,
      minRefreshIntervalMs: resolved.minRefreshIntervalMs,
      refreshTimeoutMs: resolved.refreshTimeoutMs,
      readSource: readCredentialSource,
      sourceRecheckMs: resolved.sourceRecheckMs,
      onRefreshed: anomaly && ((entry, at) => anomaly.onRefreshed(entry, at)),
    });
    this.#loop = new FailoverLoop({
      provider: providerName,
      pool,
      refresher: this.#refresher,
      classify: resolved.classifyError,
      now,
      logger,
      events,
      failover: resolved.failover,
      lifetime,
      budget: this.#budget,
    });
    const { probe } = resolved.failover;
    this.#prober = probe
      ? new Prober({
          pool,
          loop: this.#loop,
          refresher: this.#refresher,
          now,
          probe,
          concurrency: resolved.failover.probeConcurrency,
          timeoutMs: resolved.failover.probeTimeoutMs,
          lifetime,
        })
      : undefined;
    if (!this.#loaded) this.#loop.beforeFirstUse = () => this.#readyOrDegrade();
    if (resolved.monitoring) monitor.setConfig(resolved.monitoring);
    this.#metricsLabels = resolved.metricsLabels;
    this.#alerts = new AlertCheck({
      pool,
      monitor,
      now,
      events,
      canRefresh: refreshFunc !== undefined,
      rules: anomaly ? [(at) => anomaly.idleAlerts(at)] : [],
    });
    const plan = new UpkeepPlan({
      pool,
      now,
      refresher: this.#refresher,
      rotation: this.#rotation,
      alerts: this.#alerts,
      lifetime,
    });
    this.#upkeep = new Upkeep(plan, { clock: now });
    pool.listen({
      added: () => this.#upkeep.poke(),
      removed: (entry) => monitor.forget(entry.id),
    });
    pool.addAll(credentials);
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  /**
   * Runs `op` with the next available credential, refreshing its token first when the refresh
   * strategy says so. A failure that is the credential's fault (401 after one refresh and retry,
   * 429, 408, 5xx, network, timeout) puts it in backoff and moves on to the next credential, up
   * to `maxAttempts`. Any other 4xx is the request's fault: rethrown at once, no penalty.
   *
   * @throws {NoCredentialsError} when the pool is empty
   * @throws {CredentialsUnavailableError} at once when every credential is in backoff
   * @throws {FailoverExhaustedError} when every attempt failed (`errors` holds each)
   * @throws the caller's `signal.reason` when it aborts, and a 4xx error as `op` threw it
   */
  executeWithFailover<T>(op: Operation<T>, opts?: ExecuteOptions): Promise<ExecuteResult<T>> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return this.#loop.run(op, opts);
  }

  /**
   * The next available credential in selection order (round-robin by default), as a copy.
   * Credentials in backoff are skipped.
   * @throws {NoCredentialsError} / {CredentialsUnavailableError}
   */
  async getNextCredential(): Promise<OAuthCredentialSet> {
    this.#assertOpen();
    if (!this.#loaded) await this.#readyOrDegrade();
    this.#assertOpen();
    const entry = this.#pool.pick(this.#now(), undefined);
    if (!entry) throw this.#loop.unavailableError();
    return cloneCredential(entry.view);
  }

  /** Records a success of `id` from outside: clears its failures and backoff. */
  reportSuccess(id: string): void {
    const entry = this.#pool.get(id);
    if (!entry) return;
    const now = this.#now();
    entry.health.recordSuccess(now);
    this.#pool.update(entry, now);
  }

  /**
   * Records a failure of `id` from outside: backoff as for a failed request. A Retry-After on
   * `error` (429) sets the cooldown.
   */
  reportFailure(id: string, error?: unknown): void {
    const entry = this.#pool.get(id);
    if (!entry) return;
    const now = this.#now();
    const verdict =
      error === undefined
        ? ({ action: "backoff", kind: "network" } as const)
        : this.#loop.classify(error, now);
    this.#loop.penalise(entry, verdict, redactSecrets(error, entry.secrets()), now);
  }

  /**
   * Records one request's figures for `id` (what `executeWithFailover` does by itself).
   * @param tokensUsed prompt + completion tokens
   */
  recordRequest(id: string, tokensUsed: number, latencyMs: number, success: boolean): void {
    const entry = this.#pool.get(id);
    if (!entry) return;
    const now = this.#now();
    entry.metrics.record(tokensUsed, latencyMs, success, now);
    this.#budget?.record(entry, tokensUsed, 0, undefined, now);
  }

  // ---------------------------------------------------------------------------------------------
  // Refresh

  /**
   * Refreshes `id`'s token through the same single-flight path as requests: callers that arrive
   * while a refresh runs share its result. Without `force`, a token the strategy does not want
   * refreshed yet is returned as is.
   * @throws {RefreshError} (also when `id` is unknown or no refresh function is configured)
   */
  async refreshCredential(id: string, opts?: { force?: boolean }): Promise<OAuthCredentialSet> {
    this.#assertOpen();
    if (!this.#loaded) await this.#readyOrDegrade();
    this.#assertOpen();
    const entry = this.#pool.get(id);
    if (!entry) throw new RefreshError(id, "unknown credential");
    if (!opts?.force && !this.#refresher.needsRefresh(entry, this.#now())) {
      return cloneCredential(entry.view);
    }
    return cloneCredential(await this.#refresher.refresh(entry));
  }

  /**
   * @param strategy undefined resets to `defaultRefreshStrategy()`
   * @throws {TypeError | RangeError} for an invalid strategy
   */
  setRefreshStrategy(strategy?: RefreshStrategy): void {
    this.#refresher.setStrategy(
      strategy === undefined ? defaultRefreshStrategy() : validateRefreshStrategy(strategy),
    );
    this.#upkeep.poke();
  }

  /** A copy of the refresh strategy in force. */
  getRefreshStrategy(): RefreshStrategy {
    return this.#refresher.strategy;
  }

  // ---------------------------------------------------------------------------------------------
  // Credentials

  /** Copies of every credential, in pool order. */
  getCredentials(): OAuthCredentialSet[] {
    return [...this.#pool.entries.values()].map((e) => cloneCredential(e.view));
  }

  /**
   * Adds a credential while the pool serves; it is selectable at once.
   * @throws {ConfigError} for an id already present or an invalid credential
   */
  addCredential(cred: OAuthCredentialSet): void {
    this.#assertOpen();
    this.#pool.add(cred);
  }

  /**
   * Removes a credential. Its requests in flight finish; it is never selected again, and its
   * health, metrics, rotation state and stored record go with it.
   * @returns whether it was present
   */
  removeCredential(id: string): boolean {
    return this.#pool.remove(id) !== undefined;
  }

  /**
   * Takes a credential out of selection until {@link enableCredential}: requests in flight on it
   * finish, its token, health, metrics and stored record stay, and its health info says
   * `isAvailable: false`. An operator's switch, kept in memory only.
   * @returns whether the credential is present
   */
  disableCredential(id: string): boolean {
    return this.#setDisabled(id, true);
  }

  /**
   * Puts a credential taken out by {@link disableCredential} back into selection (unless it is in
   * backoff or needs re-authentication, which still apply).
   * @returns whether the credential is present
   */
  enableCredential(id: string): boolean {
    return this.#setDisabled(id, false);
  }

  /** Whether `id` was taken out of selection by {@link disableCredential}. */
  isCredentialDisabled(id: string): boolean {
    return this.#pool.get(id)?.disabled ?? false;
  }

  #setDisabled(id: string, disabled: boolean): boolean {
    const entry = this.#pool.get(id);
    if (!entry) return false;
    entry.disabled = disabled;
    this.#pool.update(entry, this.#now());
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Rotation

  /** @param policy undefined resets to `defaultRotationPolicy()` */
  setRotationPolicy(policy?: RotationPolicy): void {
    this.#rotation.setPolicy(
      policy === undefined ? defaultRotationPolicy() : validateRotationPolicy(policy),
    );
    this.#upkeep.poke();
  }

  /** A copy of the rotation policy in force. */
  getRotationPolicy(): RotationPolicy {
    return this.#rotation.policy;
  }

  /** Ids whose age has reached the rotation interval and that are not marked yet; [] when disabled. */
  checkRotationNeeded(): string[] {
    return this.#rotation.checkRotationNeeded();
  }

  /**
   * Starts a rotation: adds `newCred` at once and keeps `oldId` serving until the grace period
   * ends (`decommissionAt = now + gracePeriod`); the upkeep then decommissions it when
   * `autoDecommission` is on.
   * @throws {RotationError} for an unknown or already marked credential
   * @throws {ConfigError} for an invalid or duplicate new credential
   */
  async markForRotation(oldId: string, newCred: OAuthCredentialSet): Promise<void> {
    this.#assertOpen();
    // Stored rotation state must be in memory before this one is written over it.
    if (!this.#loaded) await this.#readyOrDegrade();
    this.#assertOpen();
    this.#rotation.markForRotation(oldId, newCred);
    const marked = this.#pool.get(oldId);
    if (marked) void this.#storeSync?.persist(marked);
    this.#upkeep.poke();
  }

  /**
   * Removes a marked credential once its grace period has passed, calling `onDecommission`
   * first. A failing `onDecommission` keeps the credential.
   * @throws {RotationError} when unknown, not marked, still in its grace period, or the callback failed
   */
  completeRotation(id: string): Promise<void> {
    return this.#rotation.completeRotation(id);
  }

  /** Completes every rotation whose grace period has passed, when `autoDecommission` is on. */
  autoDecommissionExpired(): Promise<string[]> {
    return this.#rotation.autoDecommissionExpired();
  }

  /** A copy of `id`'s rotation state, or undefined for an unknown credential. */
  getRotationState(id: string): RotationState | undefined {
    return this.#rotation.getRotationState(id);
  }

  // ---------------------------------------------------------------------------------------------
  // Health, metrics and exports

  /** A snapshot of `id`'s usage figures, or undefined for an unknown credential. */
  getCredentialMetrics(id: string): CredentialMetrics | undefined {
    return this.#pool.get(id)?.metrics.snapshot(this.#now());
  }

  /** Snapshots of every credential's usage figures, by id. */
  getAllMetrics(): Record<string, CredentialMetrics> {
    const now = this.#now();
    const out: Record<string, CredentialMetrics> = {};
    for (const [id, entry] of this.#pool.entries) out[id] = entry.metrics.snapshot(now);
    return out;
  }

  /** `id`'s health, usage and rotation at a glance, or undefined for an unknown credential. */
  getCredentialHealthInfo(id: string): CredentialHealthInfo | undefined {
    const entry = this.#pool.get(id);
    return entry && healthInfo(entry, this.#rotation.peek(id), this.#now(), this.#budget);
  }

  /** Every credential's health, with totals over the pool. */
  getHealthSummary(): HealthSummary {
    const now = this.#now();
    return withScopedCooldowns(
      healthSummary(this.providerName, this.#pool, this.#rotationOf, now, this.#budget),
      this.#pool,
      now,
    );
  }

  /** The health summary as JSON: snake_case keys, RFC 3339 times, latency in ms. */
  exportJSON(): string {
    return JSON.stringify(healthSummaryToWire(this.getHealthSummary()), null, 2);
  }

  /** Per-credential totals (requests, successes, errors, tokens, refreshes), keyed by id. */
  exportPrometheus(): PrometheusMetrics {
    return prometheusStruct(this.#pool);
  }

  /** Prometheus text exposition of every credential's counters, health gauges and latency histogram. */
  exportPrometheusText(): Promise<string> {
    return this.metricsCollector().metrics();
  }

  /**
   * The prom-client collector behind {@link exportPrometheusText}, to register into your own
   * `Registry` (several managers can share one).
   */
  metricsCollector(): PrometheusCollector {
    this.#collector ??= createCollector(() => {
      const sample = prometheusSample(
        this.providerName,
        this.#pool,
        this.#monitor,
        this.#now(),
        this.#loop.calls(),
        this.#refresher.unlockedRefreshes,
        this.#budget,
      );
      sample.labels = this.#metricsLabels;
      return sample;
    });
    return this.#collector;
  }

  // ---------------------------------------------------------------------------------------------
  // Monitoring

  /**
   * Turns alerts and webhooks on (monitoring is off until this is called; events are always
   * emitted). `undefined` sets `defaultMonitoringConfig()`.
   * @throws {ConfigError} for a webhook URL that is not http(s), a bad secret or threshold
   */
  setMonitoringConfig(config?: MonitoringConfig): void {
    this.#assertOpen();
    this.#monitor.setConfig(config);
    this.#upkeep.poke();
  }

  /** A copy of the monitoring configuration; `defaultMonitoringConfig()` while monitoring is off. */
  getMonitoringConfig(): MonitoringConfig {
    return this.#monitor.getConfig() ?? defaultMonitoringConfig();
  }

  /**
   * Evaluates the alert conditions now (high failure rate, re-authentication needed, tokens
   * expiring that will not renew by themselves) and sends their webhooks in the background.
   * @returns the alerts raised, without those suppressed by the cooldown
   */
  checkAlerts(): WebhookEvent[] {
    return this.#alerts.check();
  }

  // ---------------------------------------------------------------------------------------------
  // Events and lifecycle

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends keyof ManagerEvents>(
    event: K,
    listener: (payload: ManagerEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Loads the store now (it is otherwise loaded before the first operation): stored tokens and
   * rotation state newer than the configured ones win; with a store shared by several processes,
   * the cooldowns and re-authentication marks they set hold here too.
   * @throws the store's error; requests still go on from memory afterwards
   */
  ready(): Promise<void> {
    this.#readyPromise ??= (async () => {
      try {
        await this.#storeSync?.load();
        // Cooldowns other processes set hold here from the first request on.
        await this.#storeWatch?.loadHealth();
      } finally {
        this.#loaded = true;
        this.#loop.beforeFirstUse = undefined;
      }
    })();
    return this.#readyPromise;
  }

  async #readyOrDegrade(): Promise<void> {
    try {
      await this.ready();
    } catch (err) {
      if (!this.#loadFailureReported) {
        this.#loadFailureReported = true;
        this.#storeSync?.failed(undefined, "load", err);
      }
    }
  }

  /**
   * Starts the background upkeep: each token is refreshed shortly before the refresh strategy's
   * buffer (spread per credential), so requests in steady state never wait for a refresh;
   * `onRotationNeeded` is called once per credential when due; expired grace periods are
   * decommissioned; alerts are checked every minute while monitoring is on. Its timers never
   * keep the process alive. Idempotent.
   */
  start(): void {
    this.#assertOpen();
    // The upkeep plans from stored state (rotation ages, newer tokens): load the store first.
    if (this.#loaded) this.#startBackground();
    else void this.#readyOrDegrade().then(() => this.#startBackground());
  }

  /**
   * Stops background work, aborts refreshes in flight, waits for requests in flight, tries
   * once more to store refreshed tokens the store refused, and flushes webhooks.
   * Idempotent; later calls fail with a `ClosedError`.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** {@link close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    const stopping = this.#upkeep.stop();
    this.#lifetime.abort(this.#closedError());
    this.#storeWatch?.close();
    await stopping;
    await this.#prober?.stop();
    await this.#loop.idle();
    // Usage counted until now goes to the store, so a restart goes on from it.
    await this.#budget?.close();
    // One last try for refreshed tokens the store refused, each bounded by the store timeout.
    const unsaved = this.#storeSync?.stopRetries() ?? [];
    await Promise.all(unsaved.map((entry) => this.#storeSync?.persist(entry)));
    await this.#monitor.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  readonly #rotationOf = (id: string) => this.#rotation.peek(id);

  #startBackground(): void {
    if (this.#closed) return;
    this.#upkeep.start();
    this.#prober?.start();
  }

  #assertOpen(): void {
    if (this.#closed) throw this.#closedError();
  }

  #closedError(): ClosedError {
    const what = this.#kind === "API key" ? "KeyManager" : "OAuthKeyManager";
    return new ClosedError(`${what} for ${this.providerName}`);
  }
}
