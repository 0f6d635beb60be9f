/**
 * OAuthKeyManager: many OAuth credentials of one provider used as one reliable pool.
 * @module
 */
import { raceAbort } from "../abort.js";
import { type Clock, scheduleAt, systemClock } from "../clock.js";
import {
  ClosedError,
  ConfigError,
  type ConfigIssue,
  CredentialsUnavailableError,
  FailoverExhaustedError,
  messageOf,
  NoCredentialsError,
  RefreshError,
  RotationError,
  redactSecrets,
} from "../errors.js";
import { type FailureKind, type ManagerEvents, TypedEmitter } from "../events.js";
import { classifyError, type ErrorClassification } from "../health/classify.js";
import { DEFAULT_HEALTH_POLICY, type HealthPolicy } from "../health/credential-health.js";
import { healthSummaryToWire } from "../metrics/json-export.js";
import { PROMETHEUS_BUCKETS_SECONDS } from "../metrics/latency-histogram.js";
import {
  type CredentialSample,
  createCollector,
  type PrometheusCollector,
  type ProviderSample,
} from "../metrics/prometheus.js";
import type { AlertSubject } from "../monitoring/alerts.js";
import { defaultMonitoringConfig } from "../monitoring/config.js";
import { Monitor } from "../monitoring/monitor.js";
import { mergeRefreshed, toRefreshError } from "../refresh/refresh-result.js";
import {
  defaultRefreshStrategy,
  effectiveBufferTime,
  validateRefreshStrategy,
} from "../refresh/strategy.js";
import { Upkeep } from "../refresh/upkeep.js";
import { defaultRotationPolicy, rfc3339, validateRotationPolicy } from "../rotation/policy.js";
import { toSelector } from "../selection/selector.js";
import type { StoredToken } from "../stores/types.js";
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
  OperationResult,
  PrometheusMetrics,
  RefreshFunc,
  RefreshStrategy,
  RotationPolicy,
  RotationState,
  Usage,
  WebhookEvent,
} from "../types.js";
import { type CredentialEntry, cloneCredential } from "./credential-entry.js";
import type { OAuthKeyManagerOptions } from "./options.js";
import {
  fromStoredRotation,
  Persistence,
  storedIsNewer,
  toStored,
  withStoredTokens,
} from "./persistence.js";
import { CredentialPool } from "./pool.js";

const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_MIN_REFRESH_INTERVAL_MS = 30_000;
const DEFAULT_REFRESH_TIMEOUT_MS = 30_000;
/** Proactive refreshes start up to this long before the buffer, spread per credential. */
const MAX_REFRESH_LEAD_MS = 60_000;
/** Proactive refreshes running at once, so a pool that expires together does not stampede. */
const UPKEEP_REFRESH_CONCURRENCY = 4;
/** After a failed proactive refresh, wait this long per consecutive failure before the next. */
const UPKEEP_RETRY_STEP_MS = 10_000;
/** How often the upkeep evaluates alerts while monitoring is on. */
const ALERT_CHECK_INTERVAL_MS = 60_000;
const DEFAULT_STORE_TIMEOUT_MS = 5_000;
/** A failed save of a refreshed token is retried after 1 s, 2 s, 4 s … up to every 5 min. */
const SAVE_RETRY_BASE_MS = 1_000;
const SAVE_RETRY_MAX_MS = 300_000;

/** Thrown inside an attempt for errors that are the request's own fault: no failover. */
class Rethrow {
  constructor(readonly error: unknown) {}
}

/**
 * A pool of OAuth credentials for one provider: round-robin (or another selection) over the
 * healthy ones, tokens refreshed before they expire with one refresh per credential however many
 * callers need it, failover with backoff, and per-credential metrics.
 *
 * @example
 * const manager = new OAuthKeyManager("gemini", credentials, geminiRefresh());
 * const { result } = await manager.executeWithFailover(async (cred, signal) => {
 *   const res = await fetch(url, { headers: { authorization: `Bearer ${cred.accessToken}` }, signal });
 *   if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status, headers: res.headers });
 *   return { result: await res.json() };
 * });
 */
export class OAuthKeyManager {
  readonly providerName: string;
  readonly #refreshFunc: RefreshFunc | undefined;
  readonly #now: Clock;
  readonly #logger: Logger;
  readonly #pool: CredentialPool;
  readonly #classify: (err: unknown, now: number) => ErrorClassification;
  readonly #events: TypedEmitter<ManagerEvents>;
  readonly #minRefreshIntervalMs: number;
  readonly #refreshTimeoutMs: number;
  readonly #lifetime = new AbortController();
  readonly #upkeep: Upkeep;
  readonly #monitor: Monitor;
  readonly #persistence: Persistence | undefined;
  #readyPromise: Promise<void> | undefined;
  /** The store was loaded (or there is none): the hot path checks only this. */
  #loaded: boolean;
  #collector: PrometheusCollector | undefined;
  #nextAlertCheckAt = 0;
  #loadFailureReported = false;
  #strategy: RefreshStrategy;
  #rotationPolicy: RotationPolicy = defaultRotationPolicy();
  /** The buffer when it does not depend on metrics: the common case, computed once. */
  #fixedBuffer: number | undefined;
  #inFlight = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;

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
    this.providerName = providerName;
    this.#refreshFunc = refreshFunc;
    this.#now = options.now ?? systemClock;
    this.#logger = options.logger ?? console;
    this.#events = new TypedEmitter<ManagerEvents>(this.#logger);
    this.#classify = options.classifyError ?? classifyError;
    this.#minRefreshIntervalMs = nonNegative(
      options.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS,
      "minRefreshIntervalMs",
    );
    this.#refreshTimeoutMs = nonNegative(
      options.refreshTimeoutMs ?? DEFAULT_REFRESH_TIMEOUT_MS,
      "refreshTimeoutMs",
    );
    this.#strategy = defaultRefreshStrategy();
    this.setRefreshStrategy(options.refreshStrategy);
    this.#pool = new CredentialPool(toSelector(options.selection), healthPolicy(options));
    this.setRotationPolicy(options.rotationPolicy);
    this.#monitor = new Monitor({ provider: providerName, now: this.#now, logger: this.#logger });
    this.#persistence = options.store
      ? new Persistence(options.store, providerName, {
          timeoutMs: nonNegative(
            options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS,
            "storeTimeoutMs",
          ),
          lockTimeoutMs: this.#refreshTimeoutMs + 5_000,
        })
      : undefined;
    this.#loaded = this.#persistence === undefined;
    if (options.monitoring) this.#monitor.setConfig(options.monitoring);
    this.#upkeep = new Upkeep(
      { nextDueAt: (now) => this.#nextDueAt(now), runDue: (now) => this.#runDue(now) },
      { clock: this.#now },
    );

    const issues = validateCredentials(credentials, new Set(), "credentials");
    if (issues.length > 0) throw new ConfigError(issues);
    const now = this.#now();
    for (const cred of credentials) this.#pool.add(cred, now);
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
  async executeWithFailover<T>(op: Operation<T>, opts?: ExecuteOptions): Promise<ExecuteResult<T>> {
    this.#assertOpen();
    if (typeof op !== "function") {
      throw new TypeError(`Expected \`op\` to be a function, got ${describe(op)}`);
    }
    const signal = opts?.signal;
    const maxAttempts = this.#maxAttempts(opts?.maxAttempts);
    signal?.throwIfAborted();
    if (!this.#loaded) await this.#readyOrDegrade();
    this.#inFlight++;
    try {
      let errors: unknown[] | undefined;
      let tried: Set<string> | undefined;
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        const now = this.#now();
        const entry = this.#pool.pick(now, tried && ((c) => !(tried as Set<string>).has(c.id)));
        if (!entry) {
          if (errors) break;
          throw this.#unavailableError();
        }
        try {
          const out = await this.#attempt(entry, op, signal, now);
          const result: ExecuteResult<T> = {
            result: out?.result as T,
            credentialId: entry.id,
            attempts: attempt,
          };
          if (out?.usage) result.usage = out.usage;
          return result;
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          if (err instanceof Rethrow) throw err.error;
          errors ??= [];
          errors.push(err);
          tried ??= new Set();
          tried.add(entry.id);
        }
      }
      throw new FailoverExhaustedError(this.providerName, errors ?? []);
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#drained?.();
    }
  }

  /**
   * The next available credential in selection order (round-robin by default), as a copy.
   * Credentials in backoff are skipped.
   * @throws {NoCredentialsError} / {CredentialsUnavailableError}
   */
  async getNextCredential(): Promise<OAuthCredentialSet> {
    this.#assertOpen();
    if (!this.#loaded) await this.#readyOrDegrade();
    const entry = this.#pool.pick(this.#now(), undefined);
    if (!entry) throw this.#unavailableError();
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
        : this.#safeClassify(error, now);
    this.#penalise(entry, verdict, error, now);
  }

  /**
   * Records one request's figures for `id` (what `executeWithFailover` does by itself).
   * @param tokensUsed prompt + completion tokens
   */
  recordRequest(id: string, tokensUsed: number, latencyMs: number, success: boolean): void {
    this.#pool.get(id)?.metrics.record(tokensUsed, latencyMs, success, this.#now());
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
    const entry = this.#pool.get(id);
    if (!entry) throw new RefreshError(id, "unknown credential");
    if (!opts?.force && !this.#needsRefresh(entry, this.#now())) {
      return cloneCredential(entry.view);
    }
    return cloneCredential(await this.#refresh(entry));
  }

  /** @param strategy undefined resets to `defaultRefreshStrategy()` */
  setRefreshStrategy(strategy?: RefreshStrategy): void {
    this.#strategy =
      strategy === undefined ? defaultRefreshStrategy() : validateRefreshStrategy(strategy);
    this.#fixedBuffer =
      this.#strategy.adaptiveBuffer || this.#strategy.preemptiveRefresh
        ? undefined
        : this.#strategy.bufferTime;
  }

  getRefreshStrategy(): RefreshStrategy {
    return { ...this.#strategy };
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
    const issues = validateCredentials([cred], new Set(this.#pool.entries.keys()), "credential");
    if (issues.length > 0) throw new ConfigError(issues);
    const entry = this.#pool.add(cred, this.#now());
    if (this.#loaded) void this.#adoptOrStore(entry);
    this.#upkeep.poke();
  }

  /**
   * Removes a credential. Its requests in flight finish; it is never selected again, and its
   * health, metrics and rotation state go with it.
   * @returns whether it was present
   */
  removeCredential(id: string): boolean {
    const entry = this.#pool.remove(id);
    if (!entry) return false;
    entry.saveRetry?.();
    this.#monitor.forget(id);
    this.#forgetStored(id);
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Rotation

  /** @param policy undefined resets to `defaultRotationPolicy()` */
  setRotationPolicy(policy?: RotationPolicy): void {
    this.#rotationPolicy =
      policy === undefined ? defaultRotationPolicy() : validateRotationPolicy(policy);
    this.#upkeep?.poke();
  }

  getRotationPolicy(): RotationPolicy {
    return { ...this.#rotationPolicy };
  }

  /** Ids whose age has reached the rotation interval and that are not marked yet; [] when disabled. */
  checkRotationNeeded(): string[] {
    const policy = this.#rotationPolicy;
    if (!policy.enabled) return [];
    const now = this.#now();
    const due: string[] = [];
    for (const [id, { rotation }] of this.#pool.entries) {
      if (!rotation.markedForRotation && now - rotation.createdAt >= policy.rotationInterval) {
        due.push(id);
      }
    }
    return due;
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
    const entry = this.#pool.get(oldId);
    if (!entry) throw new RotationError(oldId, `credential ${oldId} not found`);
    if (entry.rotation.markedForRotation) {
      throw new RotationError(oldId, `credential ${oldId} is already marked for rotation`);
    }
    this.addCredential(newCred);
    const now = this.#now();
    const decommissionAt = now + this.#rotationPolicy.gracePeriod;
    entry.rotation = {
      ...entry.rotation,
      markedForRotation: true,
      rotationStartedAt: now,
      replacementId: newCred.id,
      decommissionAt,
    };
    this.#events.emit("rotation", {
      credentialId: oldId,
      replacementId: newCred.id,
      decommissionAt: new Date(decommissionAt),
    });
    void this.#persist(entry);
    this.#publish("rotation", oldId, "Credential marked for rotation", {
      replacement_id: newCred.id,
      decommission_at: new Date(decommissionAt).toISOString(),
    });
    this.#upkeep.poke();
  }

  /**
   * Removes a marked credential once its grace period has passed, calling `onDecommission`
   * first. A failing `onDecommission` keeps the credential.
   * @throws {RotationError} when unknown, not marked, still in its grace period, or the callback failed
   */
  async completeRotation(id: string): Promise<void> {
    const entry = this.#pool.get(id);
    if (!entry) throw new RotationError(id, `credential ${id} not found`);
    const { markedForRotation, decommissionAt } = entry.rotation;
    if (!markedForRotation || decommissionAt === undefined) {
      throw new RotationError(id, `credential ${id} is not marked for rotation`);
    }
    if (this.#now() < decommissionAt) {
      throw new RotationError(
        id,
        `grace period for credential ${id} has not yet elapsed (decommission at ${rfc3339(decommissionAt)})`,
      );
    }
    if (entry.decommissioning) return entry.decommissioning;
    entry.decommissioning = this.#decommission(entry).finally(() => {
      entry.decommissioning = undefined;
    });
    return entry.decommissioning;
  }

  /** Completes every rotation whose grace period has passed, when `autoDecommission` is on. */
  async autoDecommissionExpired(): Promise<string[]> {
    if (!this.#rotationPolicy.autoDecommission) return [];
    const now = this.#now();
    const due = [...this.#pool.entries.values()].filter(
      (e) => e.rotation.decommissionAt !== undefined && e.rotation.decommissionAt <= now,
    );
    const done: string[] = [];
    for (const entry of due) {
      try {
        await this.completeRotation(entry.id);
        done.push(entry.id);
      } catch (err) {
        this.#logger.warn(
          `oauthmanager: could not decommission credential ${entry.id}: ${messageOf(err)}`,
        );
      }
    }
    return done;
  }

  getRotationState(id: string): RotationState | undefined {
    const rotation = this.#pool.get(id)?.rotation;
    if (!rotation) return undefined;
    const state: RotationState = {
      createdAt: new Date(rotation.createdAt),
      markedForRotation: rotation.markedForRotation,
    };
    if (rotation.rotationStartedAt !== undefined) {
      state.rotationStartedAt = new Date(rotation.rotationStartedAt);
    }
    if (rotation.replacementId !== undefined) state.replacementId = rotation.replacementId;
    if (rotation.decommissionAt !== undefined)
      state.decommissionAt = new Date(rotation.decommissionAt);
    return state;
  }

  async #decommission(entry: CredentialEntry): Promise<void> {
    const callback = this.#rotationPolicy.onDecommission;
    if (callback) {
      try {
        await callback(entry.id);
      } catch (err) {
        const safe = redactSecrets(err, entry.secrets());
        this.#logger.warn(
          `oauthmanager: onDecommission failed for credential ${entry.id}; it stays in the pool: ${messageOf(safe)}`,
        );
        throw new RotationError(
          entry.id,
          `decommission callback failed for ${entry.id}: ${messageOf(safe)}`,
          { cause: safe },
        );
      }
    }
    if (this.#pool.remove(entry.id)) {
      entry.saveRetry?.();
      this.#monitor.forget(entry.id);
      this.#forgetStored(entry.id);
      this.#events.emit("decommission", { credentialId: entry.id });
      this.#publish("decommission", entry.id, "Credential decommissioned", {
        replacement_id: entry.rotation.replacementId,
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Health and metrics

  getCredentialMetrics(id: string): CredentialMetrics | undefined {
    return this.#pool.get(id)?.metrics.snapshot(this.#now());
  }

  getAllMetrics(): Record<string, CredentialMetrics> {
    const now = this.#now();
    const out: Record<string, CredentialMetrics> = {};
    for (const [id, entry] of this.#pool.entries) out[id] = entry.metrics.snapshot(now);
    return out;
  }

  getCredentialHealthInfo(id: string): CredentialHealthInfo | undefined {
    const entry = this.#pool.get(id);
    return entry && healthInfo(entry, this.#now());
  }

  getHealthSummary(): HealthSummary {
    const now = this.#now();
    const credentials: Record<string, CredentialHealthInfo> = {};
    let healthy = 0;
    let inBackoff = 0;
    let requests = 0;
    let successes = 0;
    for (const [id, entry] of this.#pool.entries) {
      const info = healthInfo(entry, now);
      credentials[id] = info;
      if (info.isHealthy) healthy++;
      if (!info.isAvailable) inBackoff++;
      requests += entry.metrics.requestCount;
      successes += entry.metrics.successCount;
    }
    return {
      provider: this.providerName,
      totalCredentials: this.#pool.size,
      healthyCredentials: healthy,
      unhealthyCredentials: this.#pool.size - healthy,
      credentialsInBackoff: inBackoff,
      totalRequests: requests,
      successRate: requests === 0 ? 1 : successes / requests,
      credentials,
    };
  }

  /** The health summary as JSON: the seed's snake_case keys, RFC 3339 times, latency in ms. */
  exportJSON(): string {
    return JSON.stringify(healthSummaryToWire(this.getHealthSummary()), null, 2);
  }

  /** The seed's per-credential totals. */
  exportPrometheus(): PrometheusMetrics {
    const out: PrometheusMetrics = {
      requestsTotal: {},
      successTotal: {},
      errorsTotal: {},
      tokensUsedTotal: {},
      refreshesTotal: {},
    };
    for (const [id, { metrics }] of this.#pool.entries) {
      out.requestsTotal[id] = metrics.requestCount;
      out.successTotal[id] = metrics.successCount;
      out.errorsTotal[id] = metrics.errorCount;
      out.tokensUsedTotal[id] = metrics.tokensUsed;
      out.refreshesTotal[id] = metrics.refreshCount;
    }
    return out;
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

  getMonitoringConfig(): MonitoringConfig {
    return this.#monitor.getConfig() ?? defaultMonitoringConfig();
  }

  /**
   * Evaluates the alert conditions now (high failure rate, re-authentication needed, tokens
   * expiring that will not renew by themselves) and sends their webhooks in the background.
   * @returns the alerts raised, without those suppressed by the cooldown
   */
  checkAlerts(): WebhookEvent[] {
    const now = this.#now();
    this.#nextAlertCheckAt = now + ALERT_CHECK_INTERVAL_MS;
    const subjects: AlertSubject[] = [];
    for (const entry of this.#pool.entries.values()) {
      const subject: AlertSubject = {
        id: entry.id,
        requestCount: entry.metrics.requestCount,
        errorCount: entry.metrics.errorCount,
        successRate: entry.metrics.successRate,
        canRefresh: this.#refreshFunc !== undefined && Boolean(entry.view.refreshToken),
        needsReauth: entry.health.needsReauth,
        refreshFailing: entry.health.refreshFailCount > 0,
      };
      if (entry.view.expiresAt) subject.expiresAt = new Date(entry.view.expiresAt.getTime());
      subjects.push(subject);
    }
    const raised = this.#monitor.check(subjects);
    for (const alert of raised) {
      if (alert.type === "expiry_warning") {
        const expiresAt = this.#pool.get(alert.credentialId)?.view.expiresAt;
        if (expiresAt) {
          this.#events.emit("expiry_warning", {
            credentialId: alert.credentialId,
            expiresAt: new Date(expiresAt.getTime()),
          });
        }
      }
      this.#events.emit("alert", alert);
    }
    return raised;
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
    this.#collector ??= createCollector(() => this.#prometheusSample());
    return this.#collector;
  }

  #prometheusSample(): ProviderSample {
    const now = this.#now();
    const credentials: CredentialSample[] = [];
    for (const entry of this.#pool.entries.values()) {
      const { metrics, health } = entry;
      credentials.push({
        credential: entry.id,
        requests: metrics.requestCount,
        successes: metrics.successCount,
        errors: metrics.errorCount,
        tokensUsed: metrics.tokensUsed,
        refreshes: metrics.refreshCount,
        refreshFailures: metrics.refreshFailures,
        healthy: health.isHealthy(),
        available: health.isAvailable(now),
        inBackoff: health.inBackoff(now),
        secondsUntilExpiry:
          entry.expiresAtMs === undefined ? undefined : (entry.expiresAtMs - now) / 1000,
        latency: {
          bucketsSeconds: PROMETHEUS_BUCKETS_SECONDS,
          counts: metrics.latency.prometheusCounts(),
          sumSeconds: metrics.latency.sumMs / 1000,
          count: metrics.latency.count,
        },
      });
    }
    const stats = this.#monitor.stats();
    return {
      provider: this.providerName,
      credentials,
      webhook: {
        sent: stats.sent,
        failed: stats.failed,
        dropped: stats.dropped,
        disabled: stats.disabled,
      },
    };
  }

  /** A lifecycle event for webhooks (no cooldown). */
  #publish(
    type: WebhookEvent["type"],
    credentialId: string,
    message: string,
    details: Record<string, unknown>,
  ): void {
    if (!this.#monitor.enabled) return;
    this.#monitor.publish({
      type,
      credentialId,
      timestamp: new Date(this.#now()),
      message,
      details,
    });
  }

  /** An alert: deduplicated by the cooldown, emitted as an `alert` event when raised. */
  #raise(credentialId: string, message: string, details: Record<string, unknown>): void {
    if (!this.#monitor.enabled) return;
    const alert: WebhookEvent = {
      type: "failure",
      credentialId,
      timestamp: new Date(this.#now()),
      message,
      details,
    };
    if (this.#monitor.raise(alert)) this.#events.emit("alert", alert);
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
   * rotation state newer than the configured ones win.
   * @throws the store's error; requests still go on from memory afterwards
   */
  ready(): Promise<void> {
    this.#readyPromise ??= this.#loadStore();
    return this.#readyPromise;
  }

  async #readyOrDegrade(): Promise<void> {
    try {
      await this.ready();
    } catch (err) {
      if (!this.#loadFailureReported) {
        this.#loadFailureReported = true;
        this.#storeFailed(undefined, "load", err);
      }
    }
  }

  /**
   * Starts the background upkeep: each token is refreshed shortly before the refresh strategy's
   * buffer (spread per credential), so requests in steady state never wait for a refresh;
   * `onRotationNeeded` is called once per credential when due; expired grace periods are
   * decommissioned. Its timers never keep the process alive. Idempotent.
   */
  start(): void {
    this.#assertOpen();
    this.#upkeep.start();
  }

  /**
   * Stops background work, aborts refreshes in flight and waits for requests in flight.
   * Idempotent; later calls fail with a `ClosedError`.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    const unsaved: CredentialEntry[] = [];
    for (const entry of this.#pool.entries.values()) {
      entry.saveRetry?.();
      entry.saveRetry = undefined;
      if (entry.saveFailures > 0) unsaved.push(entry);
    }
    const stopping = this.#upkeep.stop();
    this.#lifetime.abort(new ClosedError(`OAuthKeyManager for ${this.providerName}`));
    await stopping;
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
    }
    // One last try for refreshed tokens the store has not taken yet (each bounded by its timeout).
    await Promise.all(unsaved.map((entry) => this.#persist(entry)));
    await this.#monitor.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError(`OAuthKeyManager for ${this.providerName}`);
  }

  #maxAttempts(requested: number | undefined): number {
    if (requested === undefined)
      return Math.max(1, Math.min(this.#pool.size, DEFAULT_MAX_ATTEMPTS));
    if (!Number.isInteger(requested) || requested < 1) {
      throw new TypeError(
        `Expected \`maxAttempts\` to be an integer >= 1, got ${describe(requested)}`,
      );
    }
    return requested;
  }

  #unavailableError(): Error {
    if (this.#pool.size === 0) return new NoCredentialsError(this.providerName);
    return new CredentialsUnavailableError(
      this.providerName,
      this.#pool.size,
      this.#pool.retryAfter(this.#now()),
    );
  }

  /** One attempt on one credential: refresh if due, run, and on a 401 refresh and retry once. */
  async #attempt<T>(
    entry: CredentialEntry,
    op: Operation<T>,
    signal: AbortSignal | undefined,
    now: number,
  ): Promise<OperationResult<T>> {
    entry.inFlight++;
    try {
      let cred = entry.view;
      let start = now;
      if (this.#needsRefresh(entry, now)) {
        cred = await raceAbort(this.#refreshForUse(entry), signal);
        start = this.#now();
      }
      try {
        const out = await this.#run(op, cred, signal);
        this.#recordOutcome(entry, out?.usage, start, true);
        return out;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const verdict = this.#safeClassify(err, this.#now());
        if (verdict.action === "rethrow") throw new Rethrow(err);
        if (verdict.action !== "refresh") throw this.#fail(entry, verdict, err, start);
        return await this.#retryAfterUnauthorized(entry, cred, op, signal, err, start);
      }
    } finally {
      entry.inFlight--;
    }
  }

  #run<T>(
    op: Operation<T>,
    cred: Readonly<OAuthCredentialSet>,
    signal: AbortSignal | undefined,
  ): Promise<OperationResult<T>> {
    return signal ? raceAbort(op(cred, signal), signal) : op(cred, this.#lifetime.signal);
  }

  /**
   * A 401: refresh once (or take the token a concurrent caller already refreshed) and retry on
   * the same credential. Part of the same attempt. A token refreshed within the minimum interval
   * and still refused is not refreshed again, so a 401 can never start a refresh loop.
   */
  async #retryAfterUnauthorized<T>(
    entry: CredentialEntry,
    used: Readonly<OAuthCredentialSet>,
    op: Operation<T>,
    signal: AbortSignal | undefined,
    err: unknown,
    start: number,
  ): Promise<OperationResult<T>> {
    const authFailure = { action: "backoff", kind: "auth", status: 401 } as const;
    let fresh = entry.view;
    if (fresh.accessToken === used.accessToken) {
      const now = this.#now();
      const recentlyRefreshed =
        entry.lastRefreshAt !== undefined && now - entry.lastRefreshAt < this.#minRefreshIntervalMs;
      if (!this.#refreshFunc || recentlyRefreshed) throw this.#fail(entry, authFailure, err, start);
      fresh = await raceAbort(this.#refresh(entry), signal);
    }
    const retryStart = this.#now();
    try {
      const out = await this.#run(op, fresh, signal);
      this.#recordOutcome(entry, out?.usage, retryStart, true);
      return out;
    } catch (retryErr) {
      if (signal?.aborted) throw signal.reason;
      const verdict = this.#safeClassify(retryErr, this.#now());
      if (verdict.action === "rethrow") throw new Rethrow(retryErr);
      throw this.#fail(
        entry,
        verdict.action === "refresh" ? authFailure : verdict,
        retryErr,
        retryStart,
      );
    }
  }

  #needsRefresh(entry: CredentialEntry, now: number): boolean {
    if (entry.view.accessToken === "") return true;
    const expiresAt = entry.expiresAtMs;
    if (expiresAt === undefined) return false;
    const buffer =
      this.#fixedBuffer ?? effectiveBufferTime(this.#strategy, entry.metrics.forStrategy(now));
    if (expiresAt - now > buffer) return false;
    // A token endpoint that hands out tokens already inside the buffer must not make every
    // request refresh (F7): wait at least the minimum interval between refreshes.
    return (
      entry.lastRefreshAt === undefined || now - entry.lastRefreshAt >= this.#minRefreshIntervalMs
    );
  }

  #refreshForUse(entry: CredentialEntry): Promise<Readonly<OAuthCredentialSet>> {
    if (!this.#refreshFunc)
      return Promise.reject(this.#onRefreshFailure(entry, notConfigured(entry.id)));
    return this.#refresh(entry);
  }

  /** Single flight: every caller needing `entry` refreshed shares one call of the refresh function. */
  #refresh(entry: CredentialEntry): Promise<Readonly<OAuthCredentialSet>> {
    if (entry.refreshing) return entry.refreshing;
    if (!this.#refreshFunc) return Promise.reject(notConfigured(entry.id));
    const flight = this.#runRefresh(entry, this.#refreshFunc).finally(() => {
      if (entry.refreshing === flight) entry.refreshing = undefined;
    });
    entry.refreshing = flight;
    return flight;
  }

  /**
   * One refresh of `entry`. With a store, it runs under the store's lock for this credential and
   * first re-reads the store: when another process refreshed meanwhile, its token is used and no
   * refresh is made (F2). Without a store, or when the store is down, it refreshes in memory.
   */
  async #runRefresh(
    entry: CredentialEntry,
    refreshFunc: RefreshFunc,
  ): Promise<Readonly<OAuthCredentialSet>> {
    const store = this.#persistence;
    if (!store) return this.#refreshNow(entry, refreshFunc);
    let locked = false;
    try {
      return await store.withLock(entry.id, async () => {
        locked = true;
        const stored = await store.load(entry.id).catch((err: unknown) => {
          this.#storeFailed(entry, "load", err);
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
      const stored = await store.load(entry.id).then(
        (token) => ({ token }),
        () => undefined,
      );
      if (!stored) {
        this.#storeFailed(entry, "lock", err);
        return this.#refreshNow(entry, refreshFunc);
      }
      if (stored.token && this.#adoptIfFresh(entry, stored.token)) return entry.view;
      throw this.#onRefreshFailure(
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
    const now = this.#now();
    entry.setView(withStoredTokens(entry.view, stored));
    if (entry.view.lastRefresh) entry.lastRefreshAt = entry.view.lastRefresh.getTime();
    if (this.#needsRefresh(entry, now)) return false;
    entry.health.recordRefreshSuccess();
    this.#pool.update(entry, now);
    return true;
  }

  async #refreshNow(
    entry: CredentialEntry,
    refreshFunc: RefreshFunc,
  ): Promise<Readonly<OAuthCredentialSet>> {
    const before = entry.view;
    const controller = new AbortController();
    const onClose = () => controller.abort(this.#lifetime.signal.reason);
    this.#lifetime.signal.addEventListener("abort", onClose, { once: true });
    const timer = setTimeout(
      () => controller.abort(new DOMException("token refresh timed out", "TimeoutError")),
      this.#refreshTimeoutMs,
    );
    timer.unref();
    let merged: OAuthCredentialSet;
    try {
      const result = await raceAbort(
        Promise.resolve().then(() => refreshFunc(before, controller.signal)),
        controller.signal,
      );
      merged = mergeRefreshed(before, result, this.#now());
    } catch (err) {
      const error = toRefreshError(entry.id, err, entry.secrets());
      // invalid_grant may only mean another process rotated the refresh token first (F3):
      // re-read the store before declaring the credential dead.
      if (error.permanent && this.#persistence) {
        const stored = await this.#persistence.load(entry.id).catch(() => undefined);
        if (stored?.refreshToken && stored.refreshToken !== before.refreshToken) {
          entry.setView(withStoredTokens(entry.view, stored));
          if (entry.view.lastRefresh) entry.lastRefreshAt = entry.view.lastRefresh.getTime();
          entry.health.recordRefreshSuccess();
          this.#pool.update(entry, this.#now());
          return entry.view;
        }
      }
      throw this.#onRefreshFailure(entry, error);
    } finally {
      clearTimeout(timer);
      this.#lifetime.signal.removeEventListener("abort", onClose);
    }

    const now = this.#now();
    entry.setView(merged);
    entry.lastRefreshAt = now;
    entry.health.recordRefreshSuccess();
    entry.metrics.recordRefresh(now);
    this.#pool.update(entry, now);
    const view = entry.view;
    // The store first: a rotated refresh token must outlive this process before anything else.
    await this.#persist(entry);
    await this.#notifyTokenRefresh(entry, view);
    this.#events.emit("refresh", {
      credentialId: entry.id,
      expiresAt: view.expiresAt && new Date(view.expiresAt.getTime()),
      refreshCount: view.refreshCount ?? 0,
    });
    this.#publish("refresh", entry.id, "Token refreshed successfully", {
      refresh_count: view.refreshCount ?? 0,
      expires_at: view.expiresAt?.toISOString() ?? null,
    });
    return view;
  }

  // ---------------------------------------------------------------------------------------------
  // Store

  /** Loads the store once, before first use: stored tokens newer than the configured ones win. */
  async #loadStore(): Promise<void> {
    const store = this.#persistence;
    try {
      if (!store) return;
      const stored = await store.loadAll();
      for (const entry of this.#pool.entries.values()) {
        const token = stored.get(entry.id);
        if (token) this.#applyStored(entry, token);
        else void this.#persist(entry);
      }
    } finally {
      this.#loaded = true;
    }
  }

  #applyStored(entry: CredentialEntry, token: StoredToken): void {
    if (storedIsNewer(token, entry)) {
      entry.setView(withStoredTokens(entry.view, token));
      if (entry.view.lastRefresh) entry.lastRefreshAt = entry.view.lastRefresh.getTime();
    }
    if (token.rotation) {
      entry.rotation = fromStoredRotation(token.rotation, entry.rotation.rotationNotified);
    }
  }

  /** A credential added while serving: take its stored state if there is one, else store it. */
  async #adoptOrStore(entry: CredentialEntry): Promise<void> {
    const store = this.#persistence;
    if (!store) return;
    try {
      const token = await store.load(entry.id);
      if (token) this.#applyStored(entry, token);
      else await this.#persist(entry);
    } catch (err) {
      this.#storeFailed(entry, "load", err);
    }
  }

  /**
   * Writes `entry` to the store. On failure the token stays in use from memory, the save is
   * retried with backoff, and a critical alert goes out: a rotated refresh token must never be
   * lost silently (F6).
   */
  async #persist(entry: CredentialEntry): Promise<void> {
    const store = this.#persistence;
    if (!store || entry.removed) return;
    try {
      await store.save(entry.id, toStored(entry.view, entry.rotation));
      entry.saveFailures = 0;
    } catch (err) {
      entry.saveFailures++;
      this.#storeFailed(entry, "save", err);
      this.#scheduleSaveRetry(entry);
    }
  }

  #scheduleSaveRetry(entry: CredentialEntry): void {
    if (this.#closed || entry.saveRetry) return;
    const delay = Math.min(SAVE_RETRY_BASE_MS * 2 ** (entry.saveFailures - 1), SAVE_RETRY_MAX_MS);
    entry.saveRetry = scheduleAt(this.#now, this.#now() + delay, () => {
      entry.saveRetry = undefined;
      if (!this.#closed) void this.#persist(entry);
    });
  }

  #forgetStored(id: string): void {
    const store = this.#persistence;
    if (!store) return;
    store.delete(id).catch((err: unknown) => this.#storeFailed(undefined, "delete", err));
  }

  #storeFailed(entry: CredentialEntry | undefined, operation: string, err: unknown): void {
    const safe = entry ? redactSecrets(err, entry.secrets()) : err;
    const id = entry?.id;
    const critical = operation === "save";
    this.#logger.error(
      `oauthmanager: token store ${operation} failed${id ? ` for credential ${id}` : ""}; ` +
        (critical
          ? "the refreshed token is kept in memory and the save retried"
          : "going on from memory") +
        `: ${messageOf(safe)}`,
    );
    this.#events.emit("store_error", { credentialId: id, operation, error: safe });
    this.#raise(
      id ?? "*",
      critical ? "Failed to persist refreshed token" : "Token store unavailable",
      {
        reason: "persistence_failed",
        operation,
        severity: critical ? "critical" : "warning",
        error: messageOf(safe),
      },
    );
  }

  async #notifyTokenRefresh(
    entry: CredentialEntry,
    view: Readonly<OAuthCredentialSet>,
  ): Promise<void> {
    const callback = view.onTokenRefresh;
    if (!callback) return;
    try {
      await callback(
        entry.id,
        view.accessToken,
        view.refreshToken ?? "",
        view.expiresAt && new Date(view.expiresAt.getTime()),
      );
    } catch (err) {
      // The fresh token stays in use: losing it would be worse than failing to persist it.
      const safe = redactSecrets(err, entry.secrets());
      this.#logger.error(`oauthmanager: onTokenRefresh failed for credential ${entry.id}`, safe);
      this.#events.emit("store_error", {
        credentialId: entry.id,
        operation: "onTokenRefresh",
        error: safe,
      });
    }
  }

  #onRefreshFailure(entry: CredentialEntry, error: RefreshError): RefreshError {
    if (this.#closed) return error;
    const now = this.#now();
    if (!entry.removed) {
      entry.health.recordRefreshFailure(now, error.permanent);
      entry.metrics.refreshFailures++;
      this.#pool.update(entry, now);
    }
    if (error.permanent) {
      this.#logger.warn(
        `oauthmanager: credential ${entry.id} of ${this.providerName} needs re-authentication; it is out of the pool`,
      );
    }
    this.#events.emit("refresh_failure", {
      credentialId: entry.id,
      error,
      permanent: error.permanent,
      consecutiveFailures: entry.health.refreshFailCount,
    });
    if (this.#monitor.getConfig()?.alertOnRefreshFailure) {
      const details = {
        error: error.message,
        oauth_error: error.oauthError ?? null,
        permanent: error.permanent,
        consecutive_failures: entry.health.refreshFailCount,
      };
      this.#raise(entry.id, "Token refresh failed", { ...details, reason: "refresh_failed" });
      if (error.permanent) {
        this.#raise(entry.id, "Credential needs re-authentication", {
          ...details,
          reason: "needs_reauth",
        });
      }
    }
    return error;
  }

  /** Penalises `entry` for a failed request and returns the error to record (redacted). */
  #fail(
    entry: CredentialEntry,
    verdict: Pick<ErrorClassification, "action" | "kind" | "retryAfterMs">,
    err: unknown,
    start: number,
  ): unknown {
    const now = this.#now();
    entry.metrics.record(0, now - start, false, now);
    const safe = redactSecrets(err, entry.secrets());
    this.#penalise(entry, verdict, safe, now);
    return safe;
  }

  #penalise(
    entry: CredentialEntry,
    verdict: Pick<ErrorClassification, "action" | "kind" | "retryAfterMs">,
    err: unknown,
    now: number,
  ): void {
    if (entry.removed) return;
    const cooldown = verdict.action === "cooldown" ? verdict.retryAfterMs : undefined;
    const until = entry.health.recordFailure(now, cooldown);
    this.#pool.update(entry, now);
    if (this.#events.hasListeners("failure")) {
      this.#events.emit("failure", {
        credentialId: entry.id,
        error: err,
        kind: verdict.kind as FailureKind,
        consecutiveFailures: entry.health.failureCount,
        backoffUntil: until > now ? new Date(until) : undefined,
      });
    }
  }

  #recordOutcome(
    entry: CredentialEntry,
    usage: Usage | undefined,
    start: number,
    ok: boolean,
  ): void {
    const now = this.#now();
    const tokens = usage ? (usage.promptTokens || 0) + (usage.completionTokens || 0) : 0;
    entry.metrics.record(tokens, now - start, ok, now);
    if (ok && (entry.health.failureCount > 0 || entry.health.backoffUntil > 0)) {
      entry.health.recordSuccess(now);
      this.#pool.update(entry, now);
    } else if (ok) {
      entry.health.lastSuccess = now;
    }
  }

  /** When the upkeep next has work: the soonest proactive refresh, rotation or decommission. */
  #nextDueAt(now: number): number | undefined {
    let soonest: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (soonest === undefined || t < soonest)) soonest = t;
    };
    const policy = this.#rotationPolicy;
    for (const entry of this.#pool.entries.values()) {
      consider(this.#proactiveRefreshAt(entry, now));
      const r = entry.rotation;
      if (policy.enabled && !r.markedForRotation && !r.rotationNotified) {
        consider(r.createdAt + policy.rotationInterval);
      }
      if (policy.autoDecommission && r.markedForRotation) consider(r.decommissionAt);
    }
    if (this.#monitor.enabled) consider(this.#nextAlertCheckAt);
    return soonest;
  }

  /**
   * When the upkeep should refresh `entry`: shortly before the strategy's buffer, earlier by a
   * lead spread per credential so a pool does not refresh in one instant; never sooner than the
   * minimum interval after the last refresh, nor while a failed one waits to be retried.
   */
  #proactiveRefreshAt(entry: CredentialEntry, now: number): number | undefined {
    if (!this.#refreshFunc || entry.health.needsReauth || entry.refreshing) return undefined;
    if (!entry.view.refreshToken) return undefined;
    const expiresAt = entry.expiresAtMs;
    if (expiresAt === undefined && entry.view.accessToken !== "") return undefined;
    let at = now;
    if (expiresAt !== undefined) {
      const buffer =
        this.#fixedBuffer ?? effectiveBufferTime(this.#strategy, entry.metrics.forStrategy(now));
      at = expiresAt - buffer - entry.refreshLead(Math.min(MAX_REFRESH_LEAD_MS, buffer));
    }
    if (entry.lastRefreshAt !== undefined)
      at = Math.max(at, entry.lastRefreshAt + this.#minRefreshIntervalMs);
    if (entry.upkeepRetryAt !== undefined) at = Math.max(at, entry.upkeepRetryAt);
    return at;
  }

  async #runDue(now: number): Promise<void> {
    const refreshes: CredentialEntry[] = [];
    const rotations: CredentialEntry[] = [];
    const policy = this.#rotationPolicy;
    for (const entry of this.#pool.entries.values()) {
      const refreshAt = this.#proactiveRefreshAt(entry, now);
      if (refreshAt !== undefined && refreshAt <= now) refreshes.push(entry);
      const r = entry.rotation;
      if (
        policy.enabled &&
        !r.markedForRotation &&
        !r.rotationNotified &&
        now - r.createdAt >= policy.rotationInterval
      ) {
        rotations.push(entry);
      }
    }
    await runLimited(refreshes, UPKEEP_REFRESH_CONCURRENCY, (entry) => this.#upkeepRefresh(entry));
    for (const entry of rotations) {
      entry.rotation.rotationNotified = true;
      try {
        await policy.onRotationNeeded?.(entry.id);
      } catch (err) {
        this.#logger.warn(
          `oauthmanager: onRotationNeeded failed for credential ${entry.id}: ${messageOf(redactSecrets(err, entry.secrets()))}`,
        );
      }
    }
    await this.autoDecommissionExpired();
    if (this.#monitor.enabled && now >= this.#nextAlertCheckAt) this.checkAlerts();
  }

  async #upkeepRefresh(entry: CredentialEntry): Promise<void> {
    if (this.#closed || entry.removed) return;
    try {
      await this.#refresh(entry);
      entry.upkeepRetryAt = undefined;
    } catch {
      // Already counted and reported by the refresh path; space out the next try.
      const failures = Math.max(1, entry.health.refreshFailCount);
      let retryAt = this.#now() + Math.min(UPKEEP_RETRY_STEP_MS * failures, 300_000);
      if (entry.health.backoffUntil > retryAt) retryAt = entry.health.backoffUntil;
      entry.upkeepRetryAt = retryAt;
    }
  }

  #safeClassify(err: unknown, now: number): ErrorClassification {
    try {
      return this.#classify(err, now);
    } catch (classifyErr) {
      this.#logger.error(
        "oauthmanager: classifyError threw; treating the error as transient",
        classifyErr,
      );
      return { action: "backoff", kind: "network" };
    }
  }
}

function notConfigured(id: string): RefreshError {
  return new RefreshError(id, `token refresh not configured for credential ${id}`);
}

function healthPolicy(options: OAuthKeyManagerOptions): HealthPolicy {
  const b = options.backoff ?? {};
  return {
    unhealthyAfter: positiveInt(
      b.unhealthyAfter ?? DEFAULT_HEALTH_POLICY.unhealthyAfter,
      "backoff.unhealthyAfter",
    ),
    refreshUnhealthyAfter: positiveInt(
      b.refreshUnhealthyAfter ?? DEFAULT_HEALTH_POLICY.refreshUnhealthyAfter,
      "backoff.refreshUnhealthyAfter",
    ),
    maxCooldownMs: nonNegative(
      b.maxCooldownMs ?? DEFAULT_HEALTH_POLICY.maxCooldownMs,
      "backoff.maxCooldownMs",
    ),
    jitter: b.jitter === true,
  };
}

function healthInfo(entry: CredentialEntry, now: number): CredentialHealthInfo {
  const { health, metrics, view, rotation } = entry;
  const info: CredentialHealthInfo = {
    id: entry.id,
    isHealthy: health.isHealthy(),
    isAvailable: health.isAvailable(now),
    state: health.state(now),
    failureCount: health.failureCount,
    successRate: metrics.successRate,
    requestCount: metrics.requestCount,
    tokensUsed: metrics.tokensUsed,
    averageLatency: metrics.averageLatency,
    refreshCount: metrics.refreshCount,
    refreshFailCount: health.refreshFailCount,
    markedForRotation: rotation.markedForRotation,
  };
  if (metrics.lastUsed !== undefined) info.lastUsed = new Date(metrics.lastUsed);
  if (health.lastSuccess !== undefined) info.lastSuccess = new Date(health.lastSuccess);
  if (health.lastFailure !== undefined) info.lastFailure = new Date(health.lastFailure);
  if (health.backoffUntil > now) info.backoffUntil = new Date(health.backoffUntil);
  if (entry.lastRefreshAt !== undefined) info.lastRefresh = new Date(entry.lastRefreshAt);
  if (view.expiresAt) info.expiresAt = new Date(view.expiresAt.getTime());
  if (rotation.decommissionAt !== undefined)
    info.decommissionAt = new Date(rotation.decommissionAt);
  return info;
}

/** Every problem with the given credentials, by path; never quotes a secret. */
export function validateCredentials(
  credentials: readonly unknown[],
  existing: ReadonlySet<string>,
  path: string,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  credentials.forEach((raw, i) => {
    const at = credentials.length === 1 && path === "credential" ? path : `${path}[${i}]`;
    if (typeof raw !== "object" || raw === null) {
      issues.push({ path: at, message: `expected a credential object, got ${describe(raw)}` });
      return;
    }
    const c = raw as Partial<Record<keyof OAuthCredentialSet, unknown>>;
    const name = typeof c.id === "string" && c.id !== "" ? `${at} (${c.id})` : at;
    if (typeof c.id !== "string" || c.id.trim() === "") {
      issues.push({ path: `${at}.id`, message: "must be a non-empty string" });
    } else if (existing.has(c.id)) {
      issues.push({ path: `${at}.id`, message: `duplicate id "${c.id}": already in the pool` });
    } else if (seen.has(c.id)) {
      issues.push({
        path: `${at}.id`,
        message: `duplicate id "${c.id}": also used by ${path}[${seen.get(c.id)}]`,
      });
    } else {
      seen.set(c.id, i);
    }
    if (c.accessToken !== undefined && typeof c.accessToken !== "string") {
      issues.push({ path: `${name}.accessToken`, message: "must be a string" });
    }
    if (c.refreshToken !== undefined && typeof c.refreshToken !== "string") {
      issues.push({ path: `${name}.refreshToken`, message: "must be a string" });
    }
    if (!c.accessToken && !c.refreshToken) {
      issues.push({ path: name, message: "needs an accessToken or a refreshToken" });
    }
    for (const key of ["expiresAt", "lastRefresh"] as const) {
      const v = c[key];
      if (v !== undefined && (!(v instanceof Date) || Number.isNaN(v.getTime()))) {
        issues.push({ path: `${name}.${key}`, message: "must be a valid Date" });
      }
    }
    if (
      c.weight !== undefined &&
      (typeof c.weight !== "number" || !Number.isFinite(c.weight) || c.weight < 0)
    ) {
      issues.push({ path: `${name}.weight`, message: "must be a finite number >= 0" });
    }
    if (
      c.scopes !== undefined &&
      (!Array.isArray(c.scopes) || c.scopes.some((s) => typeof s !== "string"))
    ) {
      issues.push({ path: `${name}.scopes`, message: "must be an array of strings" });
    }
    if (c.onTokenRefresh !== undefined && typeof c.onTokenRefresh !== "function") {
      issues.push({ path: `${name}.onTokenRefresh`, message: "must be a function" });
    }
  });
  return issues;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return String(value);
  return typeof value;
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`Expected \`${name}\` to be a finite number >= 0, got ${describe(value)}`);
  }
  return value;
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`Expected \`${name}\` to be an integer >= 1, got ${describe(value)}`);
  }
  return value;
}

/** Runs `task` over `items` with at most `limit` at a time; never rejects. */
async function runLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item).catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
