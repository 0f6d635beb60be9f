/**
 * Options of {@link OAuthKeyManager} and {@link KeyManager}, and the one place they are checked:
 * {@link resolveOptions} turns what a caller passed into a {@link ResolvedOptions} with every
 * default filled in, or throws naming the offending key.
 * @module
 */
import { type BudgetOptions, type ResolvedBudgets, resolveBudgets } from "../budget/options.js";
import { type Clock, systemClock } from "../clock.js";
import { describe, describeSetting } from "../describe.js";
import {
  classifyError as defaultClassifyError,
  type ErrorClassification,
} from "../health/classify.js";
import { DEFAULT_HEALTH_POLICY, type HealthPolicy } from "../health/credential-health.js";
import { nonNegative, positiveInt } from "../option-checks.js";
import type { RefreshAnomalyOptions } from "../refresh/refresh-anomaly.js";
import { defaultRefreshStrategy, validateRefreshStrategy } from "../refresh/strategy.js";
import { defaultRotationPolicy, validateRotationPolicy } from "../rotation/policy.js";
import { type SelectionName, type Selector, toSelector } from "../selection/selector.js";
import type { TokenStore } from "../stores/types.js";
import { rejectUnknownKeys } from "../suggest.js";
import type {
  Logger,
  MonitoringConfig,
  OAuthCredentialSet,
  RefreshStrategy,
  RotationPolicy,
  WhenAllUnavailable,
} from "../types.js";

/** Backoff after failures. */
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
  /** Backoff thresholds; each field has its own default. @default {} */
  backoff?: BackoffOptions;
  /** Decides what an operation's error means. @default classifyError */
  classifyError?: (err: unknown, now: number) => ErrorClassification;
  /** Where warnings go. Nothing logged carries a secret. @default console */
  logger?: Logger;
  /** Alerts and webhooks from the start; `setMonitoringConfig` changes them later. @default undefined (monitoring off) */
  monitoring?: MonitoringConfig;
  /**
   * Labels added to every series this manager exports in Prometheus text, e.g.
   * `{ replica: process.env.HOSTNAME }`, so that the series of replicas sharing one pool through
   * a store stay apart. Names are Prometheus label names other than the library's own
   * (`provider`, `credential`, `kind`, `type`, `state`, `outcome`, `le`, `scope`).
   * @default {}
   */
  metricsLabels?: Readonly<Record<string, string>>;
  /** What a request does when every credential is in backoff; a call may override it. @default "reject" */
  whenAllUnavailable?: WhenAllUnavailable;
  /** The longest a request waits under `whenAllUnavailable: "wait"`. @default 30_000 */
  maxWaitMs?: number;
  /**
   * A credential whose backoff ends serves one request at a time (the rest go elsewhere) until
   * one succeeds, instead of taking its whole share of the load at once. @default false
   */
  halfOpen?: boolean;
  /**
   * Checks a credential whose backoff ended before it serves again: called in the background once
   * `start()` was called, with what operations get (the credential, or the API key of a
   * KeyManager) and a signal aborted on timeout or `close()`. Resolving puts it back into
   * selection; throwing starts its next backoff step (a Retry-After on the error is honoured).
   * @default undefined (credentials come back when their backoff ends)
   */
  probe?: ProbeFunc;
  /** Probes running at most at once. @default 2 */
  probeConcurrency?: number;
  /** A probe that takes longer is aborted and counts as failed. @default 10_000 */
  probeTimeoutMs?: number;
  /** Sticky sessions (`executeWithFailover(op, { sessionKey })`): how many keys, for how long. @default {} */
  sessions?: SessionOptions;
  /** Scopes whose cooldowns are kept at most; beyond it the least recently cooled is forgotten. @default 64 */
  maxScopes?: number;
  /**
   * Usage budgets per credential and per pool: tokens and cost per UTC hour, day and month, an
   * alert at a share of a limit, and optionally the credential out of selection until the window
   * ends. @default undefined (no budgets)
   */
  budgets?: BudgetOptions;
}

/** Checks one credential in the background; see {@link ManagerOptions.probe}. */
export type ProbeFunc = (
  cred: Readonly<OAuthCredentialSet>,
  signal: AbortSignal,
) => Promise<unknown>;

/** Options of {@link KeyManager}: its probe gets the API key itself. */
export interface KeyManagerOptions extends Omit<ManagerOptions, "probe"> {
  /** See {@link ManagerOptions.probe}; called with the key. @default undefined */
  probe?: (key: string, signal: AbortSignal) => Promise<unknown>;
}

/** Memory of sticky sessions: a least-recently-used table whose keys expire. */
export interface SessionOptions {
  /** Session keys remembered at most; the least recently used goes first. @default 10_000 */
  maxSessions?: number;
  /** A key not used for this long is forgotten. @default 3_600_000 (1 h) */
  ttlMs?: number;
}

/** Options of {@link OAuthKeyManager}. */
export interface OAuthKeyManagerOptions extends ManagerOptions {
  /** When a token counts as due for refresh. @default defaultRefreshStrategy() */
  refreshStrategy?: RefreshStrategy;
  /** When credentials are due for replacement, and how replaced ones go. @default defaultRotationPolicy() */
  rotationPolicy?: RotationPolicy;
  /** Persists refreshed tokens and rotation state. @default undefined (memory only) */
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
  /**
   * The least time between two re-reads of an external credential's source file while its token
   * is due (a refused token is re-read at once). @default 10_000
   */
  sourceRecheckMs?: number;
  /**
   * Alerts for refresh anomalies (with monitoring on): a credential refreshing far more often
   * than its token lifetime implies, and a refresh token unused so long it may expire.
   * `{}` turns them on with their defaults. @default undefined (off)
   */
  refreshAnomaly?: RefreshAnomalyOptions;
}

/** {@link OAuthKeyManagerOptions} checked, with every default filled in. */
export interface ResolvedOptions {
  readonly now: Clock;
  readonly selector: Selector;
  readonly health: Readonly<HealthPolicy>;
  readonly classifyError: (err: unknown, now: number) => ErrorClassification;
  readonly logger: Logger;
  /** Checked by the monitor when it takes it. */
  readonly monitoring: MonitoringConfig | undefined;
  readonly metricsLabels: Readonly<Record<string, string>>;
  readonly budgets: ResolvedBudgets | undefined;
  readonly refreshStrategy: RefreshStrategy;
  readonly rotationPolicy: RotationPolicy;
  readonly store: TokenStore | undefined;
  readonly minRefreshIntervalMs: number;
  readonly refreshTimeoutMs: number;
  readonly storeTimeoutMs: number;
  readonly sourceRecheckMs: number;
  /** Checked by the manager, which knows the provider's defaults. */
  readonly refreshAnomaly: RefreshAnomalyOptions | undefined;
  readonly failover: ResolvedFailoverOptions;
}

/** The options of scoped cooldowns, sticky sessions, half-open probes and panic mode, resolved. */
export interface ResolvedFailoverOptions {
  readonly whenAllUnavailable: WhenAllUnavailable;
  readonly maxWaitMs: number;
  readonly halfOpen: boolean;
  readonly probe: ProbeFunc | undefined;
  readonly probeConcurrency: number;
  readonly probeTimeoutMs: number;
  readonly maxSessions: number;
  readonly sessionTtlMs: number;
  readonly maxScopes: number;
}

const SHARED_KEYS = [
  "now",
  "selection",
  "backoff",
  "classifyError",
  "logger",
  "monitoring",
  "metricsLabels",
  "whenAllUnavailable",
  "maxWaitMs",
  "halfOpen",
  "probe",
  "probeConcurrency",
  "probeTimeoutMs",
  "sessions",
  "maxScopes",
  "budgets",
] as const satisfies readonly (keyof ManagerOptions)[];

/** Options that only make sense for tokens that are refreshed, rotated and stored. */
const OAUTH_ONLY_KEYS = [
  "refreshStrategy",
  "rotationPolicy",
  "store",
  "minRefreshIntervalMs",
  "refreshTimeoutMs",
  "storeTimeoutMs",
  "sourceRecheckMs",
  "refreshAnomaly",
] as const satisfies readonly Exclude<keyof OAuthKeyManagerOptions, keyof ManagerOptions>[];

const OAUTH_KEYS: readonly string[] = [...SHARED_KEYS, ...OAUTH_ONLY_KEYS];

const BACKOFF_KEYS = [
  "jitter",
  "unhealthyAfter",
  "refreshUnhealthyAfter",
  "maxCooldownMs",
] as const satisfies readonly (keyof BackoffOptions)[];

/**
 * Checks the options of an {@link OAuthKeyManager} once and fills in every default.
 * @throws {TypeError} for an unknown key (naming the nearest known one) or a value of the wrong type
 * @throws {RangeError} for a refresh strategy out of range
 */
export function resolveOptions(options: OAuthKeyManagerOptions | undefined): ResolvedOptions {
  const o = checkObject(options ?? {}, "options");
  rejectUnknownKeys(o, OAUTH_KEYS, "");
  const store = o.store;
  if (store !== undefined && (typeof store !== "object" || store === null)) {
    throw new TypeError(`Expected \`store\` to be a TokenStore, got ${describe(store)}`);
  }
  return {
    now: optionalFunction(o.now, "now") ?? systemClock,
    selector: toSelector(o.selection),
    health: resolveBackoff(o.backoff),
    classifyError: optionalFunction(o.classifyError, "classifyError") ?? defaultClassifyError,
    logger: resolveLogger(o.logger),
    monitoring: o.monitoring,
    metricsLabels: resolveMetricsLabels(o.metricsLabels),
    budgets: o.budgets === undefined ? undefined : resolveBudgets(o.budgets),
    refreshStrategy:
      o.refreshStrategy === undefined
        ? defaultRefreshStrategy()
        : validateRefreshStrategy(o.refreshStrategy),
    rotationPolicy:
      o.rotationPolicy === undefined
        ? defaultRotationPolicy()
        : validateRotationPolicy(o.rotationPolicy),
    store,
    minRefreshIntervalMs: nonNegative(o.minRefreshIntervalMs ?? 30_000, "minRefreshIntervalMs"),
    refreshTimeoutMs: nonNegative(o.refreshTimeoutMs ?? 30_000, "refreshTimeoutMs"),
    storeTimeoutMs: nonNegative(o.storeTimeoutMs ?? 5_000, "storeTimeoutMs"),
    sourceRecheckMs: nonNegative(o.sourceRecheckMs ?? 10_000, "sourceRecheckMs"),
    refreshAnomaly: o.refreshAnomaly,
    failover: resolveFailover(o),
  };
}

const WHEN_ALL_UNAVAILABLE = ["reject", "wait", "least-bad"] as const;
const SESSION_KEYS = ["maxSessions", "ttlMs"] as const satisfies readonly (keyof SessionOptions)[];

/**
 * @throws {TypeError} unless `value` is one of the `whenAllUnavailable` modes
 */
export function checkWhenAllUnavailable(value: unknown): WhenAllUnavailable {
  if (!(WHEN_ALL_UNAVAILABLE as readonly unknown[]).includes(value)) {
    throw new TypeError(
      `Expected \`whenAllUnavailable\` to be one of ${WHEN_ALL_UNAVAILABLE.join(", ")}, got ${describeSetting(value)}`,
    );
  }
  return value as WhenAllUnavailable;
}

function resolveFailover(o: ManagerOptions): ResolvedFailoverOptions {
  const sessions = checkObject(o.sessions ?? {}, "sessions");
  rejectUnknownKeys(sessions, SESSION_KEYS, "sessions.");
  if (o.halfOpen !== undefined && typeof o.halfOpen !== "boolean") {
    throw new TypeError(
      `Expected \`halfOpen\` to be a boolean, got ${describeSetting(o.halfOpen)}`,
    );
  }
  return {
    whenAllUnavailable:
      o.whenAllUnavailable === undefined ? "reject" : checkWhenAllUnavailable(o.whenAllUnavailable),
    maxWaitMs: nonNegative(o.maxWaitMs ?? 30_000, "maxWaitMs"),
    halfOpen: o.halfOpen === true,
    probe: optionalFunction(o.probe, "probe"),
    probeConcurrency: positiveInt(o.probeConcurrency ?? 2, "probeConcurrency"),
    probeTimeoutMs: nonNegative(o.probeTimeoutMs ?? 10_000, "probeTimeoutMs"),
    maxSessions: positiveInt(sessions.maxSessions ?? 10_000, "sessions.maxSessions"),
    sessionTtlMs: nonNegative(sessions.ttlMs ?? 3_600_000, "sessions.ttlMs"),
    maxScopes: positiveInt(o.maxScopes ?? 64, "maxScopes"),
  };
}

/** The library's own label names, and Prometheus' syntax for a label name. */
const RESERVED_LABELS = new Set([
  "provider",
  "credential",
  "kind",
  "type",
  "state",
  "outcome",
  "le",
  "scope",
]);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function resolveMetricsLabels(value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return {};
  const labels = checkObject(value as object, "metricsLabels");
  const out: Record<string, string> = {};
  for (const [name, label] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith("__") || RESERVED_LABELS.has(name)) {
      throw new TypeError(
        `Expected \`metricsLabels\` names to be Prometheus label names other than ${[...RESERVED_LABELS].join(", ")}, got ${JSON.stringify(name)}`,
      );
    }
    if (typeof label !== "string") {
      throw new TypeError(
        `Expected \`metricsLabels.${name}\` to be a string, got ${describe(label)}`,
      );
    }
    out[name] = label;
  }
  return Object.freeze(out);
}

/**
 * Checks the options of a {@link KeyManager}: those of {@link resolveOptions}, without the ones
 * about refreshing, rotating and storing tokens, which API keys never need.
 * @throws {TypeError} for an OAuth-only or unknown key
 */
export function checkKeyManagerOptions(options: KeyManagerOptions | undefined): void {
  const o = checkObject(options ?? {}, "options");
  for (const key of Object.keys(o)) {
    if ((OAUTH_ONLY_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(
        `Option \`${key}\` is for OAuthKeyManager only: a KeyManager's API keys are never refreshed, rotated or stored`,
      );
    }
  }
  rejectUnknownKeys(o, SHARED_KEYS, "");
}

function resolveBackoff(backoff: BackoffOptions | undefined): HealthPolicy {
  const b = checkObject(backoff ?? {}, "backoff");
  rejectUnknownKeys(b, BACKOFF_KEYS, "backoff.");
  if (b.jitter !== undefined && typeof b.jitter !== "boolean") {
    throw new TypeError(
      `Expected \`backoff.jitter\` to be a boolean, got ${describeSetting(b.jitter)}`,
    );
  }
  return {
    unhealthyAfter: positiveInt(
      b.unhealthyAfter ?? DEFAULT_HEALTH_POLICY.unhealthyAfter,
      "backoff.unhealthyAfter",
    ),
    refreshUnhealthyAfter: positiveInt(
      b.refreshUnhealthyAfter ?? DEFAULT_HEALTH_POLICY.refreshUnhealthyAfter,
      "backoff.refreshUnhealthyAfter",
    ),
    maxCooldownMs: nonNegative(
      b.maxCooldownMs ?? DEFAULT_HEALTH_POLICY.maxCooldownMs,
      "backoff.maxCooldownMs",
    ),
    jitter: b.jitter === true,
  };
}

function resolveLogger(logger: Logger | undefined): Logger {
  if (logger === undefined) return console;
  if (
    typeof logger !== "object" ||
    logger === null ||
    typeof logger.warn !== "function" ||
    typeof logger.error !== "function"
  ) {
    throw new TypeError(
      `Expected \`logger\` to be an object with warn and error methods, got ${describe(logger)}`,
    );
  }
  return logger;
}

function checkObject<T extends object>(value: T, name: string): T & Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected \`${name}\` to be an object, got ${describe(value)}`);
  }
  return value as T & Record<string, unknown>;
}

function optionalFunction<F>(value: F | undefined, name: string): F | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(`Expected \`${name}\` to be a function, got ${describe(value)}`);
  }
  return value;
}
