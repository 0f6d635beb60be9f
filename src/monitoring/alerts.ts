/**
 * Alert rules and the per-alert cooldown that keeps them from repeating: an alert goes out once
 * per cooldown, however often the rules run.
 * @module
 */
import type { Clock } from "../clock.js";
import type { MonitoringConfig, WebhookEvent } from "../types.js";
import { rfc3339 } from "./wire.js";

/** What the alert rules need to know about one credential. */
export interface AlertSubject {
  id: string;
  requestCount: number;
  errorCount: number;
  successRate: number;
  expiresAt?: Date;
  /** Has a refresh token and the manager has a refresh function. */
  canRefresh: boolean;
  needsReauth: boolean;
  /** The last refresh failed. */
  refreshFailing: boolean;
}

/** Requests below which the failure rate says too little to alert on. */
export const MIN_REQUESTS_FOR_FAILURE_RATE = 10;

/** Why an expiring token will not renew itself (`details.reason` of an expiry warning). */
export type ExpiryReason = "needs_reauth" | "refresh_failing" | "cannot_refresh";

/**
 * The alerts due now, in subject order (high failure rate, then re-authentication, then expiry,
 * per credential). Pure: no cooldown is applied here.
 *
 * - High failure rate (`alertOnHighFailureRate`): at least 10 requests and `errorCount /
 *   requestCount` above `failureRateThreshold` → type `failure`, "High failure rate detected: 35.0%".
 * - Needs re-authentication (`alertOnRefreshFailure`) → type `failure`, "Credential needs
 *   re-authentication", `details.reason` `needs_reauth`.
 * - Expiry (`alertOnExpirySoon`): only tokens that will not renew by themselves — within
 *   `expiryWarningTime` of `expiresAt` and without a refresh token, needing re-authentication or
 *   with a failing refresh → type `expiry_warning`.
 */
export function evaluateAlerts(
  subjects: Iterable<AlertSubject>,
  config: MonitoringConfig,
  now: number,
): WebhookEvent[] {
  const alerts: WebhookEvent[] = [];
  const timestamp = new Date(now);
  for (const s of subjects) {
    if (config.alertOnHighFailureRate && s.requestCount >= MIN_REQUESTS_FOR_FAILURE_RATE) {
      const rate = s.errorCount / s.requestCount;
      if (rate > config.failureRateThreshold) {
        alerts.push({
          type: "failure",
          credentialId: s.id,
          timestamp,
          message: `High failure rate detected: ${(rate * 100).toFixed(1)}%`,
          details: {
            failure_rate: rate,
            success_rate: s.successRate,
            total_requests: s.requestCount,
            error_count: s.errorCount,
          },
        });
      }
    }
    if (config.alertOnRefreshFailure && s.needsReauth) {
      alerts.push({
        type: "failure",
        credentialId: s.id,
        timestamp,
        message: "Credential needs re-authentication",
        details: { reason: "needs_reauth" },
      });
    }
    const expiry = expiryAlert(s, config, now, timestamp);
    if (expiry) alerts.push(expiry);
  }
  return alerts;
}

function expiryAlert(
  s: AlertSubject,
  config: MonitoringConfig,
  now: number,
  timestamp: Date,
): WebhookEvent | undefined {
  if (!config.alertOnExpirySoon || !(s.expiresAt instanceof Date)) return undefined;
  const expiresAt = s.expiresAt.getTime();
  if (Number.isNaN(expiresAt)) return undefined;
  const remaining = expiresAt - now;
  if (remaining > config.expiryWarningTime) return undefined;
  const reason = expiryReason(s);
  if (reason === undefined) return undefined;
  return {
    type: "expiry_warning",
    credentialId: s.id,
    timestamp,
    message:
      remaining <= 0
        ? "Token expired and cannot be refreshed"
        : `Token expires in ${formatDuration(remaining)}`,
    details: {
      expires_at: rfc3339(s.expiresAt),
      // `|| 0` turns -0 into 0.
      expires_in_seconds: Math.trunc(remaining / 1000) || 0,
      reason,
    },
  };
}

function expiryReason(s: AlertSubject): ExpiryReason | undefined {
  if (s.needsReauth) return "needs_reauth";
  if (!s.canRefresh) return "cannot_refresh";
  if (s.refreshFailing) return "refresh_failing";
  return undefined;
}

/** `1d 2h`, `3h 5m`, `4m 10s`, `59s`: the two largest units. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const units: [string, number][] = [
    ["d", Math.floor(total / 86_400)],
    ["h", Math.floor(total / 3_600) % 24],
    ["m", Math.floor(total / 60) % 60],
    ["s", total % 60],
  ];
  const first = units.findIndex(([, n]) => n > 0);
  if (first < 0) return "0s";
  return units
    .slice(first, first + 2)
    .filter(([, n]) => n > 0)
    .map(([u, n]) => `${n}${u}`)
    .join(" ");
}

/**
 * The cooldown key of an alert: its type, with `failure` alerts kept apart by `details.reason`
 * (re-authentication needed, refresh failed, or none for a high failure rate), so one never
 * hides another.
 */
export function alertKey(alert: WebhookEvent): string {
  const reason = alert.details?.reason;
  return alert.type === "failure" && typeof reason === "string" ? `failure:${reason}` : alert.type;
}

/** Options of {@link AlertCooldown}. */
export interface AlertCooldownOptions {
  now: Clock;
  /** Entries kept at most; the oldest go first once expired ones are gone. @default 10_000 */
  maxEntries?: number;
}

interface CooldownEntry {
  credentialId: string;
  until: number;
}

/**
 * Remembers which alerts were sent, per (type, credential), so the same one is not sent again
 * within its cooldown. Bounded: never holds more than `maxEntries`.
 */
export class AlertCooldown {
  readonly #now: Clock;
  readonly #max: number;
  // Insertion order = age: a re-acquired key is deleted and re-inserted at the end.
  readonly #entries = new Map<string, CooldownEntry>();

  /** @throws {RangeError} when `maxEntries` is not an integer >= 1. */
  constructor(opts: AlertCooldownOptions) {
    const max = opts.maxEntries ?? 10_000;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Expected \`maxEntries\` to be an integer >= 1, got ${max}`);
    }
    this.#now = opts.now;
    this.#max = max;
  }

  /** Entries held (some may have expired and not been swept yet). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * True, and records the alert as sent, when it is not within its cooldown; false otherwise.
   * A cooldown of 0 or less never suppresses and records nothing.
   */
  tryAcquire(type: string, credentialId: string, cooldownMs: number): boolean {
    const now = this.#now();
    const key = keyOf(type, credentialId);
    const entry = this.#entries.get(key);
    if (entry && now < entry.until) return false;
    this.#entries.delete(key);
    if (!(cooldownMs > 0)) return true;
    if (this.#entries.size >= this.#max) this.#evict(now);
    this.#entries.set(key, { credentialId, until: now + cooldownMs });
    return true;
  }

  /** The record of an alert now held, to hand back to {@link release}; undefined when none. */
  holder(type: string, credentialId: string): object | undefined {
    return this.#entries.get(keyOf(type, credentialId));
  }

  /**
   * Forgets a recorded alert, so a send that failed does not count as sent. With `holder`, only
   * if the record is still that one: a late failure of an old send must not cancel the cooldown
   * of a newer alert that was delivered.
   */
  release(type: string, credentialId: string, holder?: object): void {
    const key = keyOf(type, credentialId);
    if (holder !== undefined && this.#entries.get(key) !== holder) return;
    this.#entries.delete(key);
  }

  /** Forgets every alert of a credential (it was removed). */
  forget(credentialId: string): void {
    for (const [key, entry] of this.#entries) {
      if (entry.credentialId === credentialId) this.#entries.delete(key);
    }
  }

  #evict(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.until <= now) this.#entries.delete(key);
    }
    // Still full: drop the oldest, which are the nearest to expiring anyway when cooldowns match.
    for (const key of this.#entries.keys()) {
      if (this.#entries.size < this.#max) break;
      this.#entries.delete(key);
    }
  }
}

function keyOf(type: string, credentialId: string): string {
  return `${type}\u0000${credentialId}`;
}
