/**
 * Read-only views of the pool: health info and summary, the per-credential totals of
 * `exportPrometheus`, the sample behind the Prometheus text, and the facts the alert rules look
 * at. Ids, counts and times only: nothing here carries a secret.
 * @module
 */
import type {
  CallOutcome,
  CredentialSample,
  ProviderSample,
  ScopeSample,
} from "../metrics/prometheus.js";
import type { AlertSubject } from "../monitoring/alerts.js";
import type { Monitor } from "../monitoring/monitor.js";
import type { PoolEntry } from "../pool/entry.js";
import type { CredentialPool } from "../pool/pool.js";
import type {
  CredentialHealthInfo,
  HealthSummary,
  PrometheusMetrics,
  RotationState,
} from "../types.js";

/** Where a credential's rotation state is read from. */
export type RotationLookup = (id: string) => Readonly<RotationState> | undefined;

/** One credential's health and usage. */
export function healthInfo(
  entry: PoolEntry,
  rotation: Readonly<RotationState> | undefined,
  now: number,
): CredentialHealthInfo {
  const { health, metrics, view } = entry;
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
    markedForRotation: rotation?.markedForRotation ?? false,
  };
  if (metrics.lastUsed !== undefined) info.lastUsed = new Date(metrics.lastUsed);
  if (health.lastSuccess !== undefined) info.lastSuccess = new Date(health.lastSuccess);
  if (health.lastFailure !== undefined) info.lastFailure = new Date(health.lastFailure);
  if (health.backoffUntil > now) info.backoffUntil = new Date(health.backoffUntil);
  if (view.lastRefresh) info.lastRefresh = new Date(view.lastRefresh.getTime());
  if (view.expiresAt) info.expiresAt = new Date(view.expiresAt.getTime());
  if (rotation?.decommissionAt !== undefined) {
    info.decommissionAt = new Date(rotation.decommissionAt.getTime());
  }
  return info;
}

/** Every credential's health, with totals over the pool. */
export function healthSummary(
  provider: string,
  pool: CredentialPool,
  rotation: RotationLookup,
  now: number,
): HealthSummary {
  const credentials: Record<string, CredentialHealthInfo> = {};
  let healthy = 0;
  let unavailable = 0;
  let requests = 0;
  let successes = 0;
  for (const [id, entry] of pool.entries) {
    const info = healthInfo(entry, rotation(id), now);
    credentials[id] = info;
    if (info.isHealthy) healthy++;
    if (!info.isAvailable) unavailable++;
    requests += entry.metrics.requestCount;
    successes += entry.metrics.successCount;
  }
  return {
    provider,
    totalCredentials: pool.size,
    healthyCredentials: healthy,
    unhealthyCredentials: pool.size - healthy,
    // every credential not selectable now, cooling down or waiting for re-authentication
    credentialsInBackoff: unavailable,
    totalRequests: requests,
    successRate: requests === 0 ? 1 : successes / requests,
    credentials,
  };
}

/**
 * Scopes shown in the health summary and the Prometheus text at most (the most recently cooled):
 * each is a label value, and callers name scopes, so their number must stay bounded.
 */
export const MAX_EXPORTED_SCOPES = 50;

/** `summary` with its scoped cooldowns, when any credential cools down in a scope. */
export function withScopedCooldowns(
  summary: HealthSummary,
  pool: CredentialPool,
  now: number,
): HealthSummary {
  const scoped = pool.scopedCooldowns(now, MAX_EXPORTED_SCOPES);
  if (scoped.size === 0) return summary;
  const out: Record<string, Record<string, Date>> = {};
  for (const [scope, until] of scoped) {
    const byId: Record<string, Date> = {};
    for (const [id, at] of Object.entries(until)) byId[id] = new Date(at);
    out[scope] = byId;
  }
  summary.scopedCooldowns = out;
  return summary;
}

/** The per-credential totals of `exportPrometheus`. */
export function prometheusStruct(pool: CredentialPool): PrometheusMetrics {
  const out: PrometheusMetrics = {
    requestsTotal: {},
    successTotal: {},
    errorsTotal: {},
    tokensUsedTotal: {},
    refreshesTotal: {},
  };
  for (const [id, { metrics }] of pool.entries) {
    out.requestsTotal[id] = metrics.requestCount;
    out.successTotal[id] = metrics.successCount;
    out.errorsTotal[id] = metrics.errorCount;
    out.tokensUsedTotal[id] = metrics.tokensUsed;
    out.refreshesTotal[id] = metrics.refreshCount;
  }
  return out;
}

/** What the Prometheus collector reads at scrape time. */
export function prometheusSample(
  provider: string,
  pool: CredentialPool,
  monitor: Monitor,
  now: number,
  calls: Record<CallOutcome, number>,
  unlockedRefreshes: number,
): ProviderSample {
  const credentials: CredentialSample[] = [];
  for (const entry of pool.entries.values()) {
    const { metrics, health } = entry;
    credentials.push({
      credential: entry.id,
      requests: metrics.requestCount,
      successes: metrics.successCount,
      errors: metrics.errorCount,
      errorsByKind: metrics.errorsByKind(),
      tokensUsed: metrics.tokensUsed,
      promptTokens: metrics.promptTokens,
      completionTokens: metrics.completionTokens,
      refreshes: metrics.refreshCount,
      refreshFailures: metrics.refreshFailures,
      healthy: health.isHealthy(),
      available: health.isAvailable(now),
      inBackoff: health.inBackoff(now),
      state: health.state(now),
      expiresAtSeconds: entry.expiresAtMs === undefined ? undefined : entry.expiresAtMs / 1000,
      latency: metrics.latency(),
    });
  }
  const stats = monitor.stats();
  const scopes: ScopeSample[] = [];
  for (const [scope, until] of pool.scopedCooldowns(now, MAX_EXPORTED_SCOPES)) {
    scopes.push({ scope, cooling: Object.keys(until).length });
  }
  return {
    provider,
    credentials,
    scopes,
    calls,
    unlockedRefreshes,
    webhook: {
      sent: stats.sent,
      failed: stats.failed,
      dropped: stats.dropped,
      disabled: stats.disabled,
    },
  };
}

/** The facts the alert rules look at, per credential. */
export function alertSubjects(pool: CredentialPool, canRefresh: boolean): AlertSubject[] {
  const subjects: AlertSubject[] = [];
  for (const entry of pool.entries.values()) {
    const subject: AlertSubject = {
      id: entry.id,
      requestCount: entry.metrics.requestCount,
      errorCount: entry.metrics.errorCount,
      successRate: entry.metrics.successRate,
      canRefresh: canRefresh && Boolean(entry.view.refreshToken),
      needsReauth: entry.health.needsReauth,
      refreshFailing: entry.health.refreshFailCount > 0,
    };
    if (entry.view.expiresAt) subject.expiresAt = new Date(entry.view.expiresAt.getTime());
    subjects.push(subject);
  }
  return subjects;
}
