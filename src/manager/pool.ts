/**
 * The pool: credentials by id, the ring of those selectable now, and the queue of those in
 * backoff. Selection costs O(1) amortised for round-robin and never touches credentials in
 * backoff, however many there are.
 * @module
 */
import type { HealthPolicy } from "../health/credential-health.js";
import { createMetricsTable } from "../metrics/credential-metrics.js";
import { BackoffQueue } from "../selection/backoff-queue.js";
import { AvailabilityRing, type Candidate } from "../selection/ring.js";
import type { Selector } from "../selection/selector.js";
import type { OAuthCredentialSet } from "../types.js";
import { CredentialEntry } from "./credential-entry.js";

export class CredentialPool {
  readonly entries = new Map<string, CredentialEntry>();
  readonly #ring = new AvailabilityRing<CredentialEntry>();
  readonly #backoff = new BackoffQueue<CredentialEntry>(
    (entry, deadline) =>
      !entry.removed &&
      !entry.linked &&
      !entry.health.needsReauth &&
      entry.health.backoffUntil === deadline,
  );
  /** Every credential's counters and histogram, packed together. */
  readonly #metrics = createMetricsTable();
  #nextOrder = 0;

  constructor(
    private readonly selector: Selector,
    private readonly policy: HealthPolicy,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: string): CredentialEntry | undefined {
    return this.entries.get(id);
  }

  add(cred: OAuthCredentialSet, now: number): CredentialEntry {
    const entry = new CredentialEntry(cred, this.#nextOrder++, this.policy, now, this.#metrics);
    this.entries.set(entry.id, entry);
    this.#ring.link(entry);
    return entry;
  }

  remove(id: string): CredentialEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    entry.removed = true;
    entry.metrics.release();
    this.#ring.unlink(entry);
    this.entries.delete(id);
    this.selector.forget?.(id);
    this.#compactIfStale();
    return entry;
  }

  /**
   * The next credential to use, skipping those `accept` refuses (already tried by this request).
   * Returns undefined when none is selectable now.
   */
  pick(now: number, accept: ((c: Candidate) => boolean) | undefined): CredentialEntry | undefined {
    this.#recover(now);
    if (this.#ring.size === 0) return undefined;
    return this.selector.select(this.#ring, accept ?? acceptAll);
  }

  /** Milliseconds until the soonest credential in backoff comes back; undefined when none will. */
  retryAfter(now: number): number | undefined {
    const deadline = this.#backoff.peekDeadline();
    return deadline === undefined ? undefined : Math.max(0, deadline - now);
  }

  /** Re-evaluates where `entry` belongs after its health changed. */
  update(entry: CredentialEntry, now: number): void {
    if (entry.removed) return;
    if (entry.health.needsReauth) {
      this.#ring.unlink(entry);
    } else if (entry.health.backoffUntil > now) {
      if (entry.linked) this.#ring.unlink(entry);
      this.#backoff.push(entry, entry.health.backoffUntil);
      this.#compactIfStale();
    } else {
      this.#ring.link(entry);
    }
  }

  /** Entries waiting in the backoff queue, stale ones included (for diagnostics and tests). */
  get backoffQueueSize(): number {
    return this.#backoff.size;
  }

  /** Drops stale backoff entries once they outnumber the live ones, so memory stays bounded (F25). */
  #compactIfStale(): void {
    if (this.#backoff.size > 2 * this.entries.size + 64) this.#backoff.compact();
  }

  #recover(now: number): void {
    if (this.#backoff.hasDue(now)) this.#backoff.popDue(now, this.#relink);
  }

  readonly #relink = (entry: CredentialEntry): void => {
    if (!entry.health.needsReauth) this.#ring.link(entry);
  };
}

const acceptAll = (): boolean => true;
