/**
 * Refresh anomalies: a credential refreshing far more often than its tokens' lifetime implies
 * (a clock skew, a provider issuing tokens that expire at once, a refresh loop), and a refresh
 * token unused for so long that the provider may have let it expire.
 * @module
 */
import { describeSetting } from "../describe.js";
import type { Notifier } from "../monitoring/notifier.js";
import { positiveNumber } from "../option-checks.js";
import type { PoolEntry } from "../pool/entry.js";
import type { CredentialPool } from "../pool/pool.js";
import { rejectUnknownKeys } from "../suggest.js";
import type { WebhookEvent } from "../types.js";

/** When refreshes count as anomalous. Durations in milliseconds. */
export interface RefreshAnomalyOptions {
  /** Refreshes of one credential looked at together. @default 3 */
  minRefreshes?: number;
  /** Only that many refreshes within this long count. @default 3_600_000 (1 h) */
  windowMs?: number;
  /**
   * Alert when the refreshes came this many times faster than the token lifetime implies
   * (lifetime minus the refresh buffer). @default 4
   */
  factor?: number;
  /**
   * Alert when a refresh token has not been used (no refresh) for this long. Default per
   * provider where its idle lifetime is documented: `gemini` (Google, whose refresh tokens expire
   * after six months unused) 150 days; else undefined (no alert).
   */
  refreshTokenMaxIdleMs?: number;
}

/** The options checked, with their defaults. */
export interface ResolvedRefreshAnomaly {
  minRefreshes: number;
  windowMs: number;
  factor: number;
  refreshTokenMaxIdleMs: number | undefined;
}

const DAY_MS = 86_400_000;

/**
 * Idle ages at which a provider's refresh tokens may expire, less a month's warning. Google:
 * "a refresh token might stop working … the refresh token has not been used for six months"
 * (developers.google.com/identity/protocols/oauth2#expiration).
 */
const IDLE_DEFAULTS: Readonly<Record<string, number>> = { gemini: 150 * DAY_MS };

const KEYS = ["minRefreshes", "windowMs", "factor", "refreshTokenMaxIdleMs"];

/**
 * Checks the options and fills in the defaults for `provider`.
 * @throws {TypeError} for an unknown key or a value out of range
 */
export function resolveRefreshAnomaly(value: unknown, provider: string): ResolvedRefreshAnomaly {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Expected \`refreshAnomaly\` to be an object, got ${describeSetting(value)}`,
    );
  }
  const o = value as Record<string, unknown>;
  rejectUnknownKeys(o, KEYS, "refreshAnomaly.");
  const minRefreshes = o.minRefreshes ?? 3;
  if (!Number.isInteger(minRefreshes) || (minRefreshes as number) < 2) {
    throw new TypeError(
      `Expected \`refreshAnomaly.minRefreshes\` to be an integer >= 2, got ${describeSetting(minRefreshes)}`,
    );
  }
  return {
    minRefreshes: minRefreshes as number,
    windowMs: positiveNumber(o.windowMs ?? 3_600_000, "refreshAnomaly.windowMs"),
    factor: positiveNumber(o.factor ?? 4, "refreshAnomaly.factor"),
    refreshTokenMaxIdleMs:
      o.refreshTokenMaxIdleMs === undefined
        ? IDLE_DEFAULTS[provider]
        : positiveNumber(o.refreshTokenMaxIdleMs, "refreshAnomaly.refreshTokenMaxIdleMs"),
  };
}

/** What {@link RefreshAnomaly} works with. */
export interface RefreshAnomalyDeps {
  pool: CredentialPool;
  notifier: Notifier;
  options: ResolvedRefreshAnomaly;
  /** The refresh buffer of `entry` now: how long before expiry it is refreshed. */
  bufferFor(entry: PoolEntry, now: number): number;
}

export class RefreshAnomaly {
  readonly #deps: RefreshAnomalyDeps;
  /** The latest refresh times per credential, oldest first, at most `minRefreshes`. */
  readonly #recent = new WeakMap<PoolEntry, number[]>();

  constructor(deps: RefreshAnomalyDeps) {
    this.#deps = deps;
  }

  /**
   * After a successful refresh of `entry` (its new token in place): alerts when its last
   * `minRefreshes` refreshes came within the window and, on average, `factor` times faster than
   * the new token's lifetime less the refresh buffer, or when that lifetime is within the buffer.
   */
  onRefreshed(entry: PoolEntry, now: number): void {
    const { minRefreshes, windowMs, factor } = this.#deps.options;
    let times = this.#recent.get(entry);
    if (!times) {
      times = [];
      this.#recent.set(entry, times);
    }
    times.push(now);
    if (times.length > minRefreshes) times.shift();
    if (times.length < minRefreshes) return;
    const span = now - (times[0] as number);
    if (span > windowMs) return;
    const averageMs = span / (times.length - 1);
    const expiresAt = entry.expiresAtMs;
    const lifetimeMs = expiresAt === undefined ? undefined : expiresAt - now;
    const bufferMs = this.#deps.bufferFor(entry, now);
    // A token without expiry is refreshed only after a 401: more than one per window is a loop.
    const expectedMs = lifetimeMs === undefined ? windowMs : lifetimeMs - bufferMs;
    if (expectedMs > 0 && averageMs * factor >= expectedMs) return;
    this.#deps.notifier.raise(entry.id, "Credential refreshes far more often than expected", {
      reason: "refresh_anomaly",
      cause: expectedMs > 0 ? "refreshing_too_often" : "token_lifetime_within_buffer",
      refreshes: times.length,
      within_ms: span,
      average_interval_ms: Math.round(averageMs),
      token_lifetime_ms: lifetimeMs ?? null,
      refresh_buffer_ms: bufferMs,
    });
  }

  /**
   * Refresh tokens unused (no refresh, by this process or, per the store, another) for at least
   * `refreshTokenMaxIdleMs`: their provider may let them expire. Credentials another program
   * refreshes are that program's business.
   */
  idleAlerts(now: number): WebhookEvent[] {
    const maxIdle = this.#deps.options.refreshTokenMaxIdleMs;
    if (maxIdle === undefined) return [];
    const alerts: WebhookEvent[] = [];
    for (const entry of this.#deps.pool.entries.values()) {
      if (entry.external || !entry.view.refreshToken || entry.health.needsReauth) continue;
      const last = entry.lastRefreshAt ?? entry.addedAt;
      const idleMs = now - last;
      if (idleMs < maxIdle) continue;
      alerts.push({
        type: "failure",
        credentialId: entry.id,
        timestamp: new Date(now),
        message: "Refresh token unused for so long that it may expire",
        details: {
          reason: "refresh_token_idle",
          idle_ms: idleMs,
          max_idle_ms: maxIdle,
          last_used: new Date(last).toISOString(),
        },
      });
    }
    return alerts;
  }
}
