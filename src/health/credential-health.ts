/**
 * Health of one credential on two tracks: API failures (backoff 1 s … 60 s, unhealthy after 3)
 * and refresh failures (unhealthy and backoff 60 s … 480 s after 5). A plain, serialisable state.
 * @module
 */
import type { CredentialState } from "../types.js";
import { apiBackoffMs, refreshBackoffMs } from "./backoff.js";

/** Resolved health thresholds. */
export interface HealthPolicy {
  unhealthyAfter: number;
  refreshUnhealthyAfter: number;
  maxCooldownMs: number;
  jitter: boolean;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = {
  unhealthyAfter: 3,
  refreshUnhealthyAfter: 5,
  maxCooldownMs: 3_600_000,
  jitter: false,
};

/**
 * The backoff one API failure earns: its cooldown (a Retry-After), capped by the policy, else the
 * step for `failures` in a row; undefined when it earns none (no cooldown, and a failure that
 * counts as part of the last step rather than a new one).
 */
export function failureStep(
  policy: HealthPolicy,
  failures: number,
  cooldownMs: number | undefined,
  escalates: boolean,
): number | undefined {
  const hasCooldown = cooldownMs !== undefined && Number.isFinite(cooldownMs) && cooldownMs >= 0;
  if (hasCooldown) return Math.min(cooldownMs, policy.maxCooldownMs);
  return escalates ? apiBackoffMs(failures, { jitter: policy.jitter }) : undefined;
}

export class CredentialHealth {
  failureCount = 0;
  // Times are kept as numbers, NaN for "never", and read as undefined: a field that only ever
  // holds numbers is updated in place, while one that also holds undefined would box every new
  // time in a fresh heap object — on every successful request.
  #lastFailure = Number.NaN;
  #lastSuccess = Number.NaN;
  /** Epoch ms until which the credential is not selected; 0 when not in backoff. */
  backoffUntil = 0;
  refreshFailCount = 0;
  lastRefreshFailure: number | undefined;
  /** When the last backoff step was taken (epoch ms); undefined after a success. */
  escalatedAt: number | undefined;
  /** A permanent refresh failure: out of selection until re-authenticated. */
  needsReauth = false;

  constructor(private readonly policy: HealthPolicy) {}

  /** When the last API failure was recorded (epoch ms). */
  get lastFailure(): number | undefined {
    return Number.isNaN(this.#lastFailure) ? undefined : this.#lastFailure;
  }

  set lastFailure(at: number | undefined) {
    this.#lastFailure = at ?? Number.NaN;
  }

  /** When the last success was recorded (epoch ms). */
  get lastSuccess(): number | undefined {
    return Number.isNaN(this.#lastSuccess) ? undefined : this.#lastSuccess;
  }

  set lastSuccess(at: number | undefined) {
    this.#lastSuccess = at ?? Number.NaN;
  }

  isHealthy(): boolean {
    return (
      !this.needsReauth &&
      this.failureCount < this.policy.unhealthyAfter &&
      this.refreshFailCount < this.policy.refreshUnhealthyAfter
    );
  }

  isAvailable(now: number): boolean {
    return !this.needsReauth && this.backoffUntil <= now;
  }

  inBackoff(now: number): boolean {
    return this.backoffUntil > now;
  }

  state(now: number): CredentialState {
    if (this.needsReauth) return "needs_reauth";
    if (this.inBackoff(now)) return "cooling";
    return this.isHealthy() ? "healthy" : "unhealthy";
  }

  recordSuccess(now: number): void {
    this.failureCount = 0;
    this.backoffUntil = 0;
    this.escalatedAt = undefined;
    this.lastSuccess = now;
  }

  /**
   * Counts an API failure and extends the backoff to at least `cooldownMs` (a Retry-After) or the
   * next backoff step. A later, shorter cooldown never shortens an earlier one.
   *
   * Requests in flight together when an upstream blips all fail together; counting each as a
   * step would put the credential at the top of the ladder after one short outage. So, like an
   * outlier ejection that counts once however many requests saw it, a failure adds a step only
   * when its request started after the last step was taken; an earlier request's failure
   * counts as part of that step (its Retry-After is still honoured).
   * @param startedAt when the failed request started; a failure reported from outside starts now
   * @returns the new backoff deadline
   */
  recordFailure(now: number, cooldownMs?: number, startedAt: number = now): number {
    this.lastFailure = now;
    const escalates = this.escalatedAt === undefined || startedAt >= this.escalatedAt;
    if (escalates) {
      this.failureCount++;
      this.escalatedAt = now;
    }
    const step = failureStep(this.policy, this.failureCount, cooldownMs, escalates);
    if (step === undefined) return this.backoffUntil;
    this.backoffUntil = Math.max(this.backoffUntil, now + step);
    return this.backoffUntil;
  }

  recordRefreshSuccess(): void {
    this.refreshFailCount = 0;
    this.failureCount = 0;
    this.backoffUntil = 0;
    this.escalatedAt = undefined;
    this.needsReauth = false;
  }

  /**
   * Counts a refresh failure; from the threshold on, the credential backs off on the refresh track.
   * @returns the backoff deadline, or 0 when the failure imposes none
   */
  recordRefreshFailure(now: number, permanent: boolean): number {
    this.refreshFailCount++;
    this.lastRefreshFailure = now;
    if (permanent) {
      this.needsReauth = true;
      return 0;
    }
    const step = refreshBackoffMs(this.refreshFailCount, {
      threshold: this.policy.refreshUnhealthyAfter,
      jitter: this.policy.jitter,
    });
    if (step === 0) return 0;
    this.backoffUntil = Math.max(this.backoffUntil, now + step);
    return this.backoffUntil;
  }

  toJSON(): Record<string, unknown> {
    return {
      failureCount: this.failureCount,
      lastFailure: this.lastFailure,
      lastSuccess: this.lastSuccess,
      backoffUntil: this.backoffUntil,
      refreshFailCount: this.refreshFailCount,
      lastRefreshFailure: this.lastRefreshFailure,
      needsReauth: this.needsReauth,
    };
  }
}
