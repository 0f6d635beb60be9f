/**
 * oauthmanager: many OAuth credentials and API keys per AI provider, used as one reliable pool.
 * Store types and implementations are in `oauthmanager/stores`, the YAML configuration in
 * `oauthmanager/config`.
 * @module
 */
export {
  ALL_UNAVAILABLE,
  CLOSED,
  ClosedError,
  ConfigError,
  type ConfigIssue,
  CredentialsUnavailableError,
  type ErrorCode,
  FAILOVER_EXHAUSTED,
  FailoverExhaustedError,
  INVALID_CONFIG,
  isLockTimeoutError,
  isOAuthManagerError,
  LockTimeoutError,
  NO_CREDENTIALS,
  NoCredentialsError,
  OAuthManagerError,
  REFRESH_FAILED,
  RefreshError,
  ROTATION_FAILED,
  RotationError,
  STORE_FAILED,
  StoreError,
} from "./errors.js";
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
export type {
  BackoffOptions,
  KeyManagerOptions,
  ManagerOptions,
  OAuthKeyManagerOptions,
  ProbeFunc,
  SessionOptions,
} from "./manager/options.js";
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
export type {
  CredentialHealthInfo,
  CredentialMetrics,
  CredentialState,
  ExecuteOptions,
  ExecuteResult,
  HealthSummary,
  Logger,
  MonitoringConfig,
  OAuthCredentialSet,
  Operation,
  OperationResult,
  PrometheusMetrics,
  ProviderData,
  RefreshFunc,
  RefreshStrategy,
  RotationPolicy,
  RotationState,
  Usage,
  WebhookEvent,
  WebhookEventType,
  WhenAllUnavailable,
} from "./types.js";
