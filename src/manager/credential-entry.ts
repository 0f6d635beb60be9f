/**
 * Everything the manager keeps about one credential, in one object: the frozen view handed to
 * operations, health, metrics, rotation state and the refresh in flight. Removing the entry from
 * the pool drops all of it at once.
 * @module
 */
import { inspect } from "node:util";
import { CredentialHealth, type HealthPolicy } from "../health/credential-health.js";
import { MetricsRecorder } from "../metrics/credential-metrics.js";
import type { MetricsTable } from "../metrics/metrics-table.js";
import type { RingNode } from "../selection/ring.js";
import type { OAuthCredentialSet } from "../types.js";

export interface EntryRotation {
  createdAt: number;
  markedForRotation: boolean;
  rotationStartedAt?: number;
  replacementId?: string;
  decommissionAt?: number;
  /** onRotationNeeded was called for the current rotation interval. */
  rotationNotified?: boolean;
}

export class CredentialEntry implements RingNode {
  readonly id: string;
  readonly order: number;
  weight: number;
  inFlight = 0;
  prev: RingNode | undefined;
  next: RingNode | undefined;
  linked = false;
  /** Out of the pool: never selected again, in-flight requests finish. */
  removed = false;

  /** The credential as operations see it: frozen, replaced as a whole on refresh. */
  view: Readonly<OAuthCredentialSet>;
  /** `view.expiresAt` in epoch ms, read on every request. */
  expiresAtMs: number | undefined;
  readonly health: CredentialHealth;
  readonly metrics: MetricsRecorder;
  rotation: EntryRotation;
  /** The refresh in flight, shared by every caller that needs one. */
  refreshing: Promise<Readonly<OAuthCredentialSet>> | undefined;
  /** When the last refresh succeeded (epoch ms). */
  lastRefreshAt: number | undefined;
  /** After a failed proactive refresh: not before this time again. */
  upkeepRetryAt: number | undefined;
  /** Consecutive failed saves of this credential to the store. */
  saveFailures = 0;
  /** Cancels the pending retry of a failed save. */
  saveRetry: (() => void) | undefined;
  /** After a failed onDecommission: not tried again before this time (epoch ms). */
  decommissionRetryAt: number | undefined;
  decommissionFailures = 0;
  /** A decommission in progress (its onDecommission callback runs). */
  decommissioning: Promise<void> | undefined;

  constructor(
    cred: OAuthCredentialSet,
    order: number,
    policy: HealthPolicy,
    now: number,
    metrics: MetricsTable,
  ) {
    this.id = cred.id;
    this.order = order;
    this.weight = cred.weight ?? 1;
    this.view = freezeCredential(cred);
    this.expiresAtMs = cred.expiresAt?.getTime();
    this.lastRefreshAt = cred.lastRefresh?.getTime();
    this.health = new CredentialHealth(policy);
    this.metrics = new MetricsRecorder(metrics);
    this.rotation = { createdAt: now, markedForRotation: false };
  }

  setView(cred: OAuthCredentialSet): void {
    this.view = freezeCredential(cred);
    this.expiresAtMs = cred.expiresAt?.getTime();
    this.lastRefreshAt = cred.lastRefresh?.getTime() ?? this.lastRefreshAt;
  }

  /**
   * How much earlier than the buffer the upkeep refreshes this credential: a fixed fraction of
   * `maxLead` derived from the id, so a pool spreads out and the same credential stays put.
   */
  refreshLead(maxLead: number): number {
    let hash = 2166136261;
    for (let i = 0; i < this.id.length; i++) {
      hash ^= this.id.charCodeAt(i);
      hash = Math.imul(hash, 16777619);
    }
    return ((hash >>> 0) / 2 ** 32) * maxLead;
  }

  /** Strings that must never appear in anything this credential's errors carry outward. */
  secrets(): (string | undefined)[] {
    return [this.view.accessToken, this.view.refreshToken, this.view.clientSecret];
  }
}

/** A deep, frozen copy: callers can neither change ours nor be changed by us. */
export function freezeCredential(cred: OAuthCredentialSet): Readonly<OAuthCredentialSet> {
  const copy = redactingCopy(cred);
  if (cred.expiresAt) copy.expiresAt = new Date(cred.expiresAt.getTime());
  if (cred.lastRefresh) copy.lastRefresh = new Date(cred.lastRefresh.getTime());
  if (cred.scopes) copy.scopes = Object.freeze([...cred.scopes]) as string[];
  return Object.freeze(copy);
}

/** A mutable deep copy for callers (`getCredentials`). */
export function cloneCredential(cred: Readonly<OAuthCredentialSet>): OAuthCredentialSet {
  const copy = redactingCopy(cred);
  if (cred.expiresAt) copy.expiresAt = new Date(cred.expiresAt.getTime());
  if (cred.lastRefresh) copy.lastRefresh = new Date(cred.lastRefresh.getTime());
  if (cred.scopes) copy.scopes = [...cred.scopes];
  return copy;
}

const SECRET_FIELDS = ["accessToken", "refreshToken", "clientSecret"] as const;

/**
 * The prototype of every credential object the manager hands out: `console.log(cred)`,
 * `util.inspect` and `JSON.stringify` show `[REDACTED]` for secrets (the original's JSON tags
 * leaked them, G6; S1). On the prototype, so a spread copy or reading a field keeps the real
 * values the caller owns, and copying costs no more than a plain object.
 */
const REDACTING: object = Object.freeze(
  Object.defineProperties(Object.create(Object.prototype), {
    [inspect.custom]: {
      value(this: OAuthCredentialSet, depth: number, options: object) {
        return inspect(redacted(this), { ...options, depth });
      },
    },
    toJSON: {
      value(this: OAuthCredentialSet) {
        return redacted(this);
      },
    },
  }),
);

function redactingCopy(cred: Readonly<OAuthCredentialSet>): OAuthCredentialSet {
  return Object.assign(Object.create(REDACTING) as OAuthCredentialSet, cred);
}

function redacted(cred: OAuthCredentialSet): Record<string, unknown> {
  const shown: Record<string, unknown> = { ...cred };
  for (const field of SECRET_FIELDS) if (shown[field]) shown[field] = "[REDACTED]";
  return shown;
}
