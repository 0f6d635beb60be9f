/**
 * oauthmanager: many OAuth credentials and API keys per AI provider, used as one reliable pool.
 * @module
 */
export * from "./errors.js";
export type { FailureKind, Listener, ManagerEventName, ManagerEvents } from "./events.js";
export {
  classifyError,
  type ErrorAction,
  type ErrorClassification,
  statusOf,
} from "./health/classify.js";
export { parseRetryAfter } from "./health/retry-after.js";
export { KeyManager, type KeyOperation } from "./manager/key-manager.js";
export { OAuthKeyManager } from "./manager/oauth-key-manager.js";
export type { BackoffOptions, ManagerOptions, OAuthKeyManagerOptions } from "./manager/options.js";
export { METRIC_NAMES, type PrometheusCollector } from "./metrics/prometheus.js";
export { defaultMonitoringConfig } from "./monitoring/config.js";
export {
  adaptiveRefreshStrategy,
  calculateBufferTime,
  conservativeRefreshStrategy,
  defaultRefreshStrategy,
  type MetricsForStrategy,
  shouldRefresh,
} from "./refresh/strategy.js";
export { defaultRotationPolicy } from "./rotation/policy.js";
export type { AvailabilityRing, Candidate } from "./selection/ring.js";
export {
  fillFirst,
  leastBusy,
  roundRobin,
  type SelectionName,
  type Selector,
  weighted,
} from "./selection/selector.js";
export type { StoredRotation, StoredToken, TokenStore } from "./stores/types.js";
export type * from "./types.js";
