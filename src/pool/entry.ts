/**
 * What the pool keeps about one credential: the state every request reads (the frozen view,
 * its expiry, health, metrics, requests in flight, ring links). State that only slow paths need
 * (a refresh in flight, save retries, rotation) lives with the part that owns it.
 * @module
 */
import { CredentialHealth, type HealthPolicy } from "../health/credential-health.js";
import { MetricsRecorder } from "../metrics/credential-metrics.js";
import type { MetricsTable } from "../metrics/metrics-table.js";
import type { RingNode } from "../selection/ring.js";
import type { OAuthCredentialSet } from "../types.js";
import { freezeCredential } from "./credential-copy.js";

/** One credential in the pool. */
export class PoolEntry implements RingNode {
  // The fields every request reads or writes come first, so they share as few cache lines as
  // they can: with a pool too large for the CPU's caches, each line is a miss per request.
  readonly id: string;
  next: RingNode | undefined;
  /** Back from backoff with half-open probing on: the next request to pick it is a trial. */
  halfOpen = false;
  /** The credential as operations see it: frozen, replaced as a whole on refresh. */
  view: Readonly<OAuthCredentialSet>;
  /** `view.expiresAt` in epoch ms, read on every request. */
  expiresAtMs: number | undefined;
  inFlight = 0;
  readonly metrics: MetricsRecorder;
  readonly health: CredentialHealth;
  readonly order: number;
  readonly weight: number;
  prev: RingNode | undefined;
  linked = false;
  /** Out of the pool: never selected again, in-flight requests finish. */
  removed = false;
  /** A trial request runs on it: out of selection until that request settles. */
  onTrial = false;
  /** Taken out of selection by hand until enabled again; health and metrics are kept. */
  disabled = false;
  /**
   * Whether a request may pick it now: neither disabled, waiting for re-authentication, resting,
   * nor held out (a used-up budget).
   */
  isAvailable(now: number): boolean {
    return !this.disabled && this.heldUntil <= now && this.health.isAvailable(now);
  }
  /** When the credential joined the pool (epoch ms): its age for rotation, unless a store says otherwise. */
  readonly addedAt: number;
  /**
   * Out of selection until then (epoch ms), whatever its health: a usage budget used up for the
   * rest of its window. 0 when not held.
   */
  heldUntil = 0;
  /** Another program refreshes the token (`owner: "external"`): never the refresh function. */
  readonly external: boolean;

  /** @param metrics the pool's table, where this credential's figures get a slot */
  constructor(
    cred: OAuthCredentialSet,
    order: number,
    policy: HealthPolicy,
    metrics: MetricsTable,
    addedAt: number,
  ) {
    this.id = cred.id;
    this.order = order;
    this.weight = cred.weight ?? 1;
    this.view = freezeCredential(cred);
    this.expiresAtMs = cred.expiresAt?.getTime();
    this.health = new CredentialHealth(policy);
    this.metrics = new MetricsRecorder(metrics);
    this.addedAt = addedAt;
    this.external = cred.owner === "external";
  }

  /** Replaces the credential operations see (after a refresh, or a newer stored token). */
  setView(cred: OAuthCredentialSet): void {
    this.view = freezeCredential(cred);
    this.expiresAtMs = cred.expiresAt?.getTime();
  }

  /** When the token was last refreshed (epoch ms), by this process or, per the store, another. */
  get lastRefreshAt(): number | undefined {
    return this.view.lastRefresh?.getTime();
  }

  /** Strings that must never appear in anything this credential's errors carry outward. */
  secrets(): (string | undefined)[] {
    return [this.view.accessToken, this.view.refreshToken, this.view.clientSecret];
  }
}
