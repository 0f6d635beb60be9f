/**
 * The health summary on the wire: snake_case keys, RFC 3339 UTC timestamps, and
 * durations in milliseconds. Holds ids, counts and times only: nothing secret.
 * @module
 */
import type { CredentialHealthInfo, HealthSummary } from "../types.js";

/** One credential on the wire. */
export function healthInfoToWire(info: CredentialHealthInfo): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    id: info.id,
    state: info.state,
    is_healthy: info.isHealthy,
    is_available: info.isAvailable,
    failure_count: info.failureCount,
    success_rate: info.successRate,
    request_count: info.requestCount,
    tokens_used: info.tokensUsed,
    average_latency: info.averageLatency,
    last_used: iso(info.lastUsed),
    last_success: iso(info.lastSuccess),
    last_failure: iso(info.lastFailure),
    refresh_count: info.refreshCount,
    last_refresh: iso(info.lastRefresh),
    refresh_fail_count: info.refreshFailCount,
    marked_for_rotation: info.markedForRotation,
  };
  // Absent when unset, rather than null: a reader tells "none" from "not known" by presence.
  if (info.backoffUntil) wire.backoff_until = iso(info.backoffUntil);
  if (info.expiresAt) wire.expires_at = iso(info.expiresAt);
  if (info.decommissionAt) wire.decommission_at = iso(info.decommissionAt);
  return wire;
}

/** The whole summary, as `exportJSON()` writes it. */
export function healthSummaryToWire(summary: HealthSummary): Record<string, unknown> {
  const credentials: Record<string, unknown> = {};
  for (const [id, info] of Object.entries(summary.credentials))
    credentials[id] = healthInfoToWire(info);
  return {
    provider: summary.provider,
    total_credentials: summary.totalCredentials,
    healthy_credentials: summary.healthyCredentials,
    unhealthy_credentials: summary.unhealthyCredentials,
    credentials_in_backoff: summary.credentialsInBackoff,
    total_requests: summary.totalRequests,
    success_rate: summary.successRate,
    credentials,
    ...scopedCooldownsToWire(summary.scopedCooldowns),
  };
}

/** `scoped_cooldowns`: scope → credential id → when its cooldown there ends; absent when none. */
function scopedCooldownsToWire(scoped: HealthSummary["scopedCooldowns"]): Record<string, unknown> {
  if (scoped === undefined) return {};
  const wire: Record<string, Record<string, string | null>> = {};
  for (const [scope, byId] of Object.entries(scoped)) {
    const until: Record<string, string | null> = {};
    for (const [id, at] of Object.entries(byId)) until[id] = iso(at);
    wire[scope] = until;
  }
  return { scoped_cooldowns: wire };
}

function iso(date: Date | undefined): string | null {
  return date ? date.toISOString() : null;
}
