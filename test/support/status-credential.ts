/**
 * One credential as `/status` and `exportJSON` report it (snake_case), healthy and unused unless
 * `fields` says otherwise: for tests that feed a status document to its readers.
 */
export function statusCredential(
  id: string,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  return {
    id,
    state: "healthy",
    is_healthy: true,
    is_available: true,
    failure_count: 0,
    success_rate: 1,
    request_count: 0,
    tokens_used: 0,
    average_latency: 0,
    last_used: null,
    last_success: null,
    last_failure: null,
    refresh_count: 0,
    last_refresh: null,
    refresh_fail_count: 0,
    marked_for_rotation: false,
    latency_p50: 0,
    latency_p95: 0,
    latency_p99: 0,
    disabled: false,
    ...fields,
  };
}
