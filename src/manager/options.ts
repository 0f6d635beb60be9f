/**
 * Options of {@link OAuthKeyManager} and {@link KeyManager}.
 * @module
 */
import type { Clock } from "../clock.js";
import type { ErrorClassification } from "../health/classify.js";
import type { SelectionName, Selector } from "../selection/selector.js";
import type { TokenStore } from "../stores/types.js";
import type { Logger, MonitoringConfig, RefreshStrategy, RotationPolicy } from "../types.js";

/** Backoff after failures. The defaults are the original's numbers. */
export interface BackoffOptions {
  /** Randomise each backoff between half and all of its step, so a pool does not retry in step. @default false */
  jitter?: boolean;
  /** Consecutive API failures after which a credential counts as unhealthy. @default 3 */
  unhealthyAfter?: number;
  /** Consecutive refresh failures after which a credential counts as unhealthy and backs off. @default 5 */
  refreshUnhealthyAfter?: number;
  /** The longest cooldown any Retry-After may impose. @default 3_600_000 (1 h) */
  maxCooldownMs?: number;
}

/** Options shared by both managers. */
export interface ManagerOptions {
  /** The clock (epoch ms) behind every time decision, latency included. @default Date.now */
  now?: Clock;
  /** How to spread load: a name or your own {@link Selector}. @default "round-robin" */
  selection?: SelectionName | Selector;
  backoff?: BackoffOptions;
  /** Decides what an operation's error means. @default classifyError */
  classifyError?: (err: unknown, now: number) => ErrorClassification;
  /** Where warnings go. Nothing logged carries a secret. @default console */
  logger?: Logger;
  monitoring?: MonitoringConfig;
}

/** Options of {@link OAuthKeyManager}. */
export interface OAuthKeyManagerOptions extends ManagerOptions {
  /** @default defaultRefreshStrategy() */
  refreshStrategy?: RefreshStrategy;
  /** @default defaultRotationPolicy() */
  rotationPolicy?: RotationPolicy;
  /** Persists refreshed tokens and rotation state. @default none (memory only) */
  store?: TokenStore;
  /**
   * The least time between two refreshes of one credential that are not forced by an explicit
   * `refreshCredential(id, { force: true })`, so a token endpoint that returns short-lived tokens
   * cannot put the manager in a refresh loop. @default 30_000
   */
  minRefreshIntervalMs?: number;
  /** A refresh that takes longer is aborted and counts as failed. @default 30_000 */
  refreshTimeoutMs?: number;
  /** Each store load, save and delete gives up after this long; the manager goes on from memory. @default 5_000 */
  storeTimeoutMs?: number;
}
