/**
 * Public data types shared by every module. Shapes are fixed by the API contract.
 * @module
 */

/**
 * Provider facts a caller needs to reach the API with a credential, kept beside its tokens:
 * refresh functions set them from the token endpoint's answer, every token store persists them,
 * and they are not secrets (logs and `JSON.stringify` show them).
 */
export interface ProviderData {
  /** Qwen: the API base URL the token is valid for (`resource_url`). */
  resourceUrl?: string;
  /** Codex/ChatGPT: the account id from the id_token (`chatgpt_account_id`). */
  accountId?: string;
  /** Google: the Cloud project the Gemini CLI login uses, where it applies. */
  projectId?: string;
}

/** One OAuth credential: what the pool hands to an operation. */
export interface OAuthCredentialSet {
  /** Unique within a manager. Used in metrics, logs and errors instead of any secret. */
  id: string;
  clientId?: string;
  clientSecret?: string;
  /** May be `""` when a `refreshToken` is given: the token is then refreshed before first use. */
  accessToken: string;
  refreshToken?: string;
  /** Absent: the token never expires (it is then refreshed only after a 401). */
  expiresAt?: Date;
  scopes?: string[];
  lastRefresh?: Date;
  refreshCount?: number;
  /** Share of traffic under `selection: "weighted"`. @default 1 */
  weight?: number;
  /**
   * Provider facts for reaching the API (base URL, account, project). A refresh result's fields
   * replace the ones given before; fields it leaves out are kept.
   */
  providerData?: ProviderData;
  /** Called after every successful refresh, after the store (if any) was written. */
  onTokenRefresh?: (
    id: string,
    accessToken: string,
    refreshToken: string,
    expiresAt: Date | undefined,
  ) => void | Promise<void>;
}

/** Token usage an operation may report. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens?: number;
}

/**
 * Exchanges a credential's refresh token for a new access token. Returns the updated credential;
 * a returned `refreshToken` that is empty or absent keeps the old one (RFC 6749 §6).
 * Throw an error with `permanent: true` or `oauthError: "invalid_grant"` when the grant is dead.
 */
export type RefreshFunc = (
  cred: Readonly<OAuthCredentialSet>,
  signal: AbortSignal,
) => Promise<OAuthCredentialSet>;

/** What an operation resolves with. */
export interface OperationResult<T> {
  result: T;
  usage?: Usage;
}

/** The caller's work, run with one credential. */
export type Operation<T> = (
  cred: Readonly<OAuthCredentialSet>,
  signal: AbortSignal,
) => Promise<OperationResult<T>>;

/** What `executeWithFailover` resolves with. */
export interface ExecuteResult<T> {
  result: T;
  usage?: Usage;
  /** The credential that served the request. */
  credentialId: string;
  /** Credentials tried, this one included. */
  attempts: number;
}

/** Options of one `executeWithFailover` call. */
export interface ExecuteOptions {
  /** Aborting rejects the call with `signal.reason`; the credential is not penalised. */
  signal?: AbortSignal;
  /** Credentials to try at most. @default min(number of credentials, 3) */
  maxAttempts?: number;
  /**
   * What the request is about (a model name, say): a 429 or quota error seen under it cools the
   * credential down for this scope only; a failure of the credential itself (401 after a
   * refresh, 403, 5xx, network) stays pool-wide. @default undefined (cooldowns are pool-wide)
   */
  scope?: string;
  /**
   * Requests with the same key go to the credential that served the key last while it can serve
   * (a provider's prompt cache lives per account), and move, then stick to the new one, the
   * moment it cannot. @default undefined (no preference)
   */
  sessionKey?: string;
  /** Overrides the manager's `whenAllUnavailable` for this call. */
  whenAllUnavailable?: WhenAllUnavailable;
}

/**
 * What a request does when no credential can be tried at all (every one in backoff):
 * - `"reject"`: throw `CredentialsUnavailableError` at once, with `retryAfterMs`;
 * - `"wait"`: wait for the soonest credential, bounded by the call's signal and `maxWaitMs`;
 * - `"least-bad"`: try the credential whose backoff ends first.
 */
export type WhenAllUnavailable = "reject" | "wait" | "least-bad";

/** Per-credential usage figures, as a snapshot. Latencies are milliseconds. */
export interface CredentialMetrics {
  requestCount: number;
  successCount: number;
  errorCount: number;
  /** promptTokens + completionTokens over all requests. */
  tokensUsed: number;
  totalLatency: number;
  averageLatency: number;
  firstUsed?: Date;
  lastUsed?: Date;
  refreshCount: number;
  lastRefreshTime?: Date;
  /** 1 when there were no requests. */
  successRate: number;
  requestsPerHour: number;
  latencyP50: number;
  latencyP95: number;
  latencyP99: number;
}

/** Health of one credential, as a snapshot. */
export interface CredentialHealthInfo {
  id: string;
  isHealthy: boolean;
  isAvailable: boolean;
  /** `'needs_reauth'` after a permanent refresh failure; `'cooling'` while in backoff. */
  state: CredentialState;
  failureCount: number;
  successRate: number;
  requestCount: number;
  tokensUsed: number;
  averageLatency: number;
  lastUsed?: Date;
  lastSuccess?: Date;
  lastFailure?: Date;
  backoffUntil?: Date;
  refreshCount: number;
  lastRefresh?: Date;
  refreshFailCount: number;
  expiresAt?: Date;
  markedForRotation: boolean;
  decommissionAt?: Date;
}

/** Where a credential stands in the pool. */
export type CredentialState = "healthy" | "cooling" | "unhealthy" | "needs_reauth";

/** The pool at a glance. */
export interface HealthSummary {
  provider: string;
  totalCredentials: number;
  healthyCredentials: number;
  unhealthyCredentials: number;
  credentialsInBackoff: number;
  totalRequests: number;
  successRate: number;
  credentials: Record<string, CredentialHealthInfo>;
  /**
   * Cooldowns confined to a scope: scope → credential id → when its cooldown there ends. Only
   * scopes with a credential cooling now, the most recently cooled first, at most 50.
   */
  scopedCooldowns?: Record<string, Record<string, Date>>;
}

/** Per-credential totals, each keyed by credential id (`exportPrometheus`). */
export interface PrometheusMetrics {
  requestsTotal: Record<string, number>;
  successTotal: Record<string, number>;
  errorsTotal: Record<string, number>;
  tokensUsedTotal: Record<string, number>;
  refreshesTotal: Record<string, number>;
}

/** When to refresh a token ahead of its expiry. Durations in milliseconds. */
export interface RefreshStrategy {
  bufferTime: number;
  adaptiveBuffer: boolean;
  minBuffer: number;
  maxBuffer: number;
  preemptiveRefresh: boolean;
  /** Requests per hour from which a credential counts as high-traffic. */
  highTrafficThreshold: number;
}

/** Rotation of credentials with an overlap. Durations in milliseconds. */
export interface RotationPolicy {
  enabled: boolean;
  rotationInterval: number;
  gracePeriod: number;
  autoDecommission: boolean;
  onRotationNeeded?: (credentialId: string) => void | Promise<void>;
  onDecommission?: (credentialId: string) => void | Promise<void>;
}

/** The state of a credential's rotation. */
export interface RotationState {
  createdAt: Date;
  markedForRotation: boolean;
  rotationStartedAt?: Date;
  replacementId?: string;
  decommissionAt?: Date;
}

/** Alert and webhook event types. */
export type WebhookEventType =
  | "refresh"
  | "failure"
  | "rotation"
  | "decommission"
  | "expiry_warning"
  | "alert";

/** An alert or lifecycle event, as delivered to webhooks (snake_case on the wire). */
export interface WebhookEvent {
  type: WebhookEventType;
  credentialId: string;
  timestamp: Date;
  message: string;
  details?: Record<string, unknown>;
}

/** Alerts and webhooks. Durations in milliseconds. */
export interface MonitoringConfig {
  webhookUrl?: string;
  webhookEvents: WebhookEventType[];
  alertOnHighFailureRate: boolean;
  failureRateThreshold: number;
  alertOnRefreshFailure: boolean;
  alertOnExpirySoon: boolean;
  expiryWarningTime: number;
  /** @default 3_600_000 (1 h) */
  alertCooldown?: number;
  /** A Standard Webhooks secret, `whsec_` + base64. */
  webhookSecret?: string;
  /** @default 10_000 */
  webhookTimeout?: number;
  /** Allow loopback, private and link-local webhook targets. @default false */
  allowPrivateWebhookTargets?: boolean;
}

/** A minimal logger; `console` fits. Messages never carry secrets. */
export interface Logger {
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}
