/**
 * The validated configuration, as `parseConfig` returns it: camelCase keys, durations in
 * milliseconds, points in time as `Date`, credentials ready for `OAuthKeyManager`.
 * @module
 */

import type { BudgetOptions } from "../budget/options.js";
import type { BackoffOptions, SessionOptions } from "../manager/options.js";
import type { AuthStyle } from "../providers/auth.js";
import type { RefreshAnomalyOptions } from "../refresh/refresh-anomaly.js";
import type { SelectionName } from "../selection/selector.js";
import type {
  MonitoringConfig,
  OAuthCredentialSet,
  RefreshStrategy,
  RotationPolicy,
  WhenAllUnavailable,
} from "../types.js";

/** The refresh strategy presets, by name. */
export type RefreshPresetName = "default" | "adaptive" | "conservative";

/**
 * How a credential is presented upstream: a header by name, or any header with a template in
 * which `{token}` stands for the access token or API key (the YAML's template defaults to
 * `"{token}"`). The same styles as `pooledFetch`'s `auth`.
 */
export type AuthScheme = AuthStyle;

/** One provider's pool and, for the gateway, how to reach it. */
export interface ProviderConfig {
  /** The provider's name: the key under `providers`, matching `[a-z0-9_-]+`. */
  name: string;
  /** The configured OAuth credentials, in order. */
  oauthCredentials: OAuthCredentialSet[];
  /** Plain API keys, in order; `createManagers` names them `key-1`, `key-2`, … */
  apiKeys: string[];
  model?: string;
  /** The preset's values, overridden by any field given with it. Absent: the manager's default. */
  refreshStrategy?: RefreshStrategy;
  selection?: SelectionName;
  /** The configured fields over `defaultRotationPolicy()`. Absent: the manager's default. */
  rotationPolicy?: RotationPolicy;
  /** The configured fields over `defaultMonitoringConfig()`. Absent: monitoring stays off. */
  monitoring?: MonitoringConfig;
  backoff?: BackoffOptions;
  /** The upstream base URL for the gateway. */
  upstream?: string;
  auth?: AuthScheme;
  /** Extra headers the gateway sends upstream. */
  headers?: Record<string, string>;
  /** The OAuth token endpoint used to refresh this provider's tokens. */
  tokenUrl?: string;
  /** @default "body" (applied by the refresher) */
  clientAuth?: "body" | "basic";
  /** @default "form" (applied by the refresher) */
  bodyFormat?: "form" | "json";
  /** See the manager option of the same name. Absent: the manager's default. */
  whenAllUnavailable?: WhenAllUnavailable;
  maxWaitMs?: number;
  halfOpen?: boolean;
  maxScopes?: number;
  sessions?: SessionOptions;
  /** Usage budgets (`budgets`). Absent: none. */
  budgets?: BudgetOptions;
  /** Refresh-anomaly alerts (`refresh_anomaly`). Absent: off. */
  refreshAnomaly?: RefreshAnomalyOptions;
  /** `source_recheck`: the least time between re-reads of an external credential's file. */
  sourceRecheckMs?: number;
  /** Where `oauthmanager login` signs in, over the preset's endpoints. */
  login?: LoginConfig;
}

/**
 * Where `oauthmanager login` signs in: each field over the preset's (gemini, qwen, anthropic,
 * openai). A provider of another name needs `authorizationUrl` or `deviceAuthorizationUrl`, and
 * `clientId`.
 */
export interface LoginConfig {
  /** The authorization endpoint of the code flow with PKCE (RFC 6749 §4.1, RFC 7636). */
  authorizationUrl?: string;
  /** The device authorization endpoint (RFC 8628); when set, login uses the device flow. */
  deviceAuthorizationUrl?: string;
  /** The public client that signs in; its logins refresh with it too. */
  clientId?: string;
  clientSecret?: string;
  scopes?: string[];
  /** The loopback redirect URI; port 0 picks a free port. @default the preset's, else `http://127.0.0.1:0/callback` */
  redirectUri?: string;
}

/** Where tokens are persisted. */
export type StoreConfig =
  | { type: "memory" }
  | { type: "file"; path: string; encryptionKey?: string }
  | { type: "redis"; url: string; prefix?: string };

/** The gateway's own settings. */
export interface ServerConfig {
  /** Keys clients present to the gateway; empty means the gateway refuses to start. */
  clientKeys: string[];
  /** Enables `/admin` when set. */
  adminKey?: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. @default 8787 */
  port?: number;
  /**
   * The largest request body the gateway accepts (it is held in memory so that it can be sent
   * again on another credential); a larger one gets 413. @default 33_554_432 (32 MiB)
   */
  maxBodyBytes?: number;
  /**
   * How long one attempt waits for the upstream's response headers; an upstream that says
   * nothing for this long counts as a timeout (failover, then 504). @default 300_000 (5 min)
   */
  upstreamTimeoutMs?: number;
  /** How long a response body may stay silent before it is cut off. @default 300_000 (5 min) */
  streamIdleTimeoutMs?: number;
  /** On SIGTERM, how long requests in flight may take to finish. @default 30_000 (30 s) */
  drainTimeoutMs?: number;
}

/** A whole validated configuration file. */
export interface OAuthManagerConfig {
  /** Providers by name, in file order. */
  providers: Record<string, ProviderConfig>;
  store?: StoreConfig;
  server?: ServerConfig;
}
