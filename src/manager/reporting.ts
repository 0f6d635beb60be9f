/**
 * Read-only views of the pool: health info and summary, the seed's Prometheus struct, the
 * sample behind the Prometheus text, and the facts the alert rules look at. Ids, counts and
 * times only: nothing here carries a secret.
 * @module
 */
import type { CredentialSample, ProviderSample } from "../metrics/prometheus.js";
import type { AlertSubject } from "../monitoring/alerts.js";
import type { CredentialHealthInfo, HealthSummary, PrometheusMetrics } from "../types.js";
import type { ManagerContext } from "./context.js";
import type { CredentialEntry } from "./credential-entry.js";

export function healthInfo(entry: CredentialEntry, now: number): CredentialHealthInfo {
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
  if (rotation.decommissionAt !== undefined) {
    info.decommissionAt = new Date(rotation.decommissionAt);
  }
  return info;
}

export function healthSummary(ctx: ManagerContext): HealthSummary {
  const now = ctx.now();
  const credentials: Record<string, CredentialHealthInfo> = {};
  let healthy = 0;
  let unavailable = 0;
  let requests = 0;
  let successes = 0;
  for (const [id, entry] of ctx.pool.entries) {
    const info = healthInfo(entry, now);
    credentials[id] = info;
    if (info.isHealthy) healthy++;
    if (!info.isAvailable) unavailable++;
    requests += entry.metrics.requestCount;
    successes += entry.metrics.successCount;
  }
  return {
    provider: ctx.provider,
    totalCredentials: ctx.pool.size,
    healthyCredentials: healthy,
    unhealthyCredentials: ctx.pool.size - healthy,
    // as in the original: every credential not selectable now
    credentialsInBackoff: unavailable,
    totalRequests: requests,
    successRate: requests === 0 ? 1 : successes / requests,
    credentials,
  };
}

/** The seed's per-credential totals. */
export function prometheusStruct(ctx: ManagerContext): PrometheusMetrics {
  const out: PrometheusMetrics = {
    requestsTotal: {},
    successTotal: {},
    errorsTotal: {},
    tokensUsedTotal: {},
    refreshesTotal: {},
  };
  for (const [id, { metrics }] of ctx.pool.entries) {
    out.requestsTotal[id] = metrics.requestCount;
    out.successTotal[id] = metrics.successCount;
    out.errorsTotal[id] = metrics.errorCount;
    out.tokensUsedTotal[id] = metrics.tokensUsed;
    out.refreshesTotal[id] = metrics.refreshCount;
  }
  return out;
}

/** What the Prometheus collector reads at scrape time. */
export function prometheusSample(ctx: ManagerContext): ProviderSample {
  const now = ctx.now();
  const credentials: CredentialSample[] = [];
  for (const entry of ctx.pool.entries.values()) {
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
  const stats = ctx.monitor.stats();
  return {
    provider: ctx.provider,
    credentials,
    webhook: {
      sent: stats.sent,
      failed: stats.failed,
      dropped: stats.dropped,
      disabled: stats.disabled,
    },
  };
}

/** The facts the alert rules look at, per credential. */
export function alertSubjects(ctx: ManagerContext, canRefresh: boolean): AlertSubject[] {
  const subjects: AlertSubject[] = [];
  for (const entry of ctx.pool.entries.values()) {
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
