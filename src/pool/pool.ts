/**
 * The pool: credentials by id, the ring of those selectable now, and the queue of those in
 * backoff. Selection costs O(1) amortised for round-robin and never touches credentials in
 * backoff, however many there are. Parts that keep state per credential listen for additions
 * and removals, so nothing outlives the credential it was about.
 * @module
 */
import { type Clock, systemClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import type { HealthPolicy } from "../health/credential-health.js";
import { createMetricsTable } from "../metrics/credential-metrics.js";
import { type Candidate, LinkedRing } from "../selection/ring.js";
import type { Selector } from "../selection/selector.js";
import type { OAuthCredentialSet } from "../types.js";
import { BackoffQueue } from "./backoff-queue.js";
import { PoolEntry } from "./entry.js";
import { validateCredentials } from "./validate.js";

/** Told about every credential that enters or leaves the pool. */
export interface PoolListener {
  added?(entry: PoolEntry): void;
  /** Called once the entry is out of selection; requests in flight on it may still finish. */
  removed?(entry: PoolEntry): void;
}

export class CredentialPool {
  readonly entries = new Map<string, PoolEntry>();
  readonly #ring = new LinkedRing<PoolEntry>();
  readonly #backoff = new BackoffQueue<PoolEntry>(
    (entry, deadline) =>
      !entry.removed &&
      !entry.linked &&
      !entry.disabled &&
      !entry.health.needsReauth &&
      entry.health.backoffUntil === deadline,
  );
  readonly #listeners: PoolListener[] = [];
  readonly #selector: Selector;
  readonly #policy: HealthPolicy;
  readonly #inPool = (id: string): boolean => this.entries.has(id);
  /** Every credential's counters and histogram, packed together. */
  readonly #metrics = createMetricsTable();
  #nextOrder = 0;

  readonly #now: Clock;

  /** @param now stamps when each credential joins the pool @default Date.now */
  constructor(selector: Selector, policy: HealthPolicy, now: Clock = systemClock) {
    this.#selector = selector;
    this.#policy = policy;
    this.#now = now;
  }

  /** Registers a listener for additions and removals from now on. */
  listen(listener: PoolListener): void {
    this.#listeners.push(listener);
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): PoolEntry | undefined {
    return this.entries.get(id);
  }

  /**
   * Adds credentials, all or none, selectable at once.
   * @param path how the list is named in messages
   * @throws {ConfigError} naming every invalid credential or id already present
   */
  addAll(creds: readonly OAuthCredentialSet[], path = "credentials"): void {
    const issues = validateCredentials(creds, this.#inPool, path);
    if (issues.length > 0) throw new ConfigError(issues);
    for (const cred of creds) this.#add(cred);
  }

  /**
   * Adds one credential, selectable at once.
   * @throws {ConfigError} for an invalid credential or an id already present
   */
  add(cred: OAuthCredentialSet): PoolEntry {
    const issues = validateCredentials([cred], this.#inPool, "credential");
    if (issues.length > 0) throw new ConfigError(issues);
    return this.#add(cred);
  }

  /** Takes `id` out of selection and tells the listeners; undefined when it was not present. */
  remove(id: string): PoolEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    entry.removed = true;
    entry.metrics.release();
    this.#ring.unlink(entry);
    this.entries.delete(id);
    this.#selector.forget?.(id);
    this.#compactIfStale();
    for (const listener of this.#listeners) listener.removed?.(entry);
    return entry;
  }

  /**
   * The next credential to use, skipping the ids in `exclude` (already tried by this request).
   * Returns undefined when none is selectable now.
   */
  pick(now: number, exclude?: ReadonlySet<string>): PoolEntry | undefined {
    this.#recover(now);
    if (this.#ring.size === 0) return undefined;
    return this.#selector.select(this.#ring, exclude ? excluding(exclude) : acceptAll);
  }

  /** Whether any credential can be picked now. */
  hasAvailable(now: number): boolean {
    this.#recover(now);
    return this.#ring.size > 0;
  }

  /** Milliseconds until the soonest credential in backoff comes back; undefined when none will. */
  retryAfter(now: number): number | undefined {
    const deadline = this.#backoff.peekDeadline();
    return deadline === undefined ? undefined : Math.max(0, deadline - now);
  }

  /** Re-evaluates where `entry` belongs after its health changed. */
  update(entry: PoolEntry, now: number): void {
    if (entry.removed) return;
    if (entry.health.needsReauth || entry.disabled) {
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

  #add(cred: OAuthCredentialSet): PoolEntry {
    const entry = new PoolEntry(cred, this.#nextOrder++, this.#policy, this.#metrics, this.#now());
    this.entries.set(entry.id, entry);
    this.#ring.link(entry);
    for (const listener of this.#listeners) listener.added?.(entry);
    return entry;
  }

  /**
   * A deadline pushed again leaves its old heap item behind; once those outnumber the live ones
   * they are dropped, so a pool whose credentials keep failing does not grow without bound.
   */
  #compactIfStale(): void {
    if (this.#backoff.size > 2 * this.entries.size + 64) this.#backoff.compact();
  }

  #recover(now: number): void {
    if (this.#backoff.hasDue(now)) this.#backoff.popDue(now, this.#relink);
  }

  readonly #relink = (entry: PoolEntry): void => {
    if (!entry.health.needsReauth && !entry.disabled) this.#ring.link(entry);
  };
}

const acceptAll = (): boolean => true;

/** A filter refusing `ids`. Built apart from `pick`, so a pick without one allocates nothing. */
function excluding(ids: ReadonlySet<string>): (c: Candidate) => boolean {
  return (c) => !ids.has(c.id);
}
