/**
 * `/status` and `/readyz`: every provider's health summary on the wire (snake_case, the same
 * fields as `exportJSON()`), each credential with its latency percentiles and whether an operator
 * disabled it. Ids, counts and times only: never a token or key.
 * @module
 */
import type { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import { healthSummaryToWire } from "../metrics/json-export.js";

/** The `/status` document. */
export function statusDocument(
  managers: ReadonlyMap<string, OAuthKeyManager>,
  now: Date,
): Record<string, unknown> {
  const providers: Record<string, unknown> = {};
  for (const [name, manager] of managers) {
    const wire = healthSummaryToWire(manager.getHealthSummary());
    const credentials = wire.credentials as Record<string, Record<string, unknown>>;
    for (const [id, cred] of Object.entries(credentials)) {
      const metrics = manager.getCredentialMetrics(id);
      cred.latency_p50 = metrics?.latencyP50 ?? 0;
      cred.latency_p95 = metrics?.latencyP95 ?? 0;
      cred.latency_p99 = metrics?.latencyP99 ?? 0;
      cred.disabled = manager.isCredentialDisabled(id);
    }
    providers[name] = wire;
  }
  return { generated_at: now.toISOString(), providers };
}

/** Per provider, whether a request could be served now (some credential is available). */
export function readiness(managers: ReadonlyMap<string, OAuthKeyManager>): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const [name, manager] of managers) {
    const { credentials } = manager.getHealthSummary();
    out[name] = Object.values(credentials).some((c) => c.isAvailable);
  }
  return out;
}
