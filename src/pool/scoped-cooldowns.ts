/**
 * Cooldowns confined to a scope (a model, say): a credential rate limited on one model keeps
 * serving the others. Each scope that has seen a cooldown gets a ring of its own holding the
 * credentials available in it (available pool-wide and not cooling in the scope), so selection
 * under a scope never walks over the ones cooling there, however many they are; and a queue of
 * its deadlines, so they come back when due. Scopes are created lazily, dropped once no
 * credential has a record in them any more, and at most `maxScopes` are kept (the one whose
 * last cooldown is oldest goes first).
 * @module
 */
import { failureStep, type HealthPolicy } from "../health/credential-health.js";
import { type AvailabilityRing, LinkedRing, type RingNode } from "../selection/ring.js";
import { BackoffQueue } from "./backoff-queue.js";
import type { PoolEntry } from "./entry.js";

/** A credential as one scope's ring holds it: the pool entry's own links serve the pool's ring. */
export class ScopeNode implements RingNode {
  readonly id: string;
  readonly order: number;
  readonly weight: number;
  prev: RingNode | undefined;
  next: RingNode | undefined;
  linked = false;

  constructor(readonly entry: PoolEntry) {
    this.id = entry.id;
    this.order = entry.order;
    this.weight = entry.weight;
  }

  get inFlight(): number {
    return this.entry.inFlight;
  }
}

/** One credential's standing in one scope, kept from its first cooldown to its next success there. */
interface ScopeRecord {
  /** Cooling in the scope until then (epoch ms); 0 once that cooldown has ended. */
  until: number;
  /** Cooldowns in a row, for the backoff step when no Retry-After says how long. */
  failures: number;
  /** When the last step was taken: failures of requests started before it count as that step. */
  escalatedAt: number;
}

/** The cooldowns of one scope. */
export class ScopeState {
  readonly records = new Map<PoolEntry, ScopeRecord>();
  /** Credentials cooling in the scope now. */
  cooling = 0;
  readonly ring = new LinkedRing<ScopeNode>();
  readonly #nodes = new Map<PoolEntry, ScopeNode>();
  readonly #queue = new BackoffQueue<PoolEntry>(
    (entry, deadline) => !entry.removed && this.records.get(entry)?.until === deadline,
  );

  /**
   * @param available the pool's ring: the scope starts with every credential available now, and
   *   its round-robin turn where the pool's is
   */
  constructor(available: AvailabilityRing<PoolEntry>) {
    for (const entry of available) this.link(entry);
    const cursor = available.cursor && this.#nodes.get(available.cursor);
    if (cursor) this.ring.cursor = cursor;
  }

  /** Whether `entry` cools down in this scope at `now` (due cooldowns not yet taken back count). */
  isCooling(entry: PoolEntry): boolean {
    return (this.records.get(entry)?.until ?? 0) > 0;
  }

  /** The pool made `entry` available: it joins this scope's ring unless it cools here. */
  link(entry: PoolEntry): void {
    if (this.isCooling(entry)) return;
    let node = this.#nodes.get(entry);
    if (!node) {
      node = new ScopeNode(entry);
      this.#nodes.set(entry, node);
    }
    this.ring.link(node);
  }

  /** The pool took `entry` out of selection (backoff, trial, removal). */
  unlink(entry: PoolEntry): void {
    const node = this.#nodes.get(entry);
    if (!node) return;
    this.ring.unlink(node);
    // Only the credentials available in the scope keep a node: memory follows the ring.
    this.#nodes.delete(entry);
  }

  /** @returns the cooldown's deadline */
  cool(
    entry: PoolEntry,
    now: number,
    cooldownMs: number | undefined,
    startedAt: number,
    policy: HealthPolicy,
  ): number {
    let record = this.records.get(entry);
    if (!record) {
      record = { until: 0, failures: 0, escalatedAt: Number.NEGATIVE_INFINITY };
      this.records.set(entry, record);
    }
    const escalates = startedAt >= record.escalatedAt;
    if (escalates) {
      record.failures++;
      record.escalatedAt = now;
    }
    const step = failureStep(policy, record.failures, cooldownMs, escalates);
    if (step === undefined) return record.until;
    const until = Math.max(record.until, now + step);
    if (until <= now) return record.until;
    if (record.until === 0) this.cooling++;
    record.until = until;
    this.unlink(entry);
    this.#queue.push(entry, until);
    if (this.#queue.size > 2 * this.records.size + 64) this.#queue.compact();
    return until;
  }

  /**
   * A request under this scope succeeded on `entry`: its record goes, unless a cooldown was
   * earned by a request that started after this one.
   * @returns whether the scope has no record left (and can be dropped)
   */
  succeeded(entry: PoolEntry, startedAt: number): boolean {
    const record = this.records.get(entry);
    if (!record) return false;
    if (record.until > 0 && startedAt <= record.escalatedAt) return false;
    this.records.delete(entry);
    if (record.until > 0) {
      this.cooling--;
      if (entry.linked) this.link(entry);
    }
    return this.records.size === 0;
  }

  /** Forgets a credential that left the pool. @returns whether the scope is now empty */
  forget(entry: PoolEntry): boolean {
    const record = this.records.get(entry);
    if (record) {
      if (record.until > 0) this.cooling--;
      this.records.delete(entry);
    }
    this.unlink(entry);
    return this.records.size === 0;
  }

  /** Takes back the credentials whose cooldown here has ended. */
  recover(now: number): void {
    if (this.#queue.hasDue(now)) this.#queue.popDue(now, this.#release);
  }

  readonly #release = (entry: PoolEntry): void => {
    const record = this.records.get(entry);
    if (!record) return;
    record.until = 0;
    this.cooling--;
    if (entry.linked) this.link(entry);
  };

  /** The soonest cooldown's deadline here; undefined when none. */
  nextDeadline(): number | undefined {
    return this.#queue.peekDeadline();
  }

  /** The credential whose cooldown here ends first. */
  soonest(): PoolEntry | undefined {
    return this.#queue.peek();
  }

  /** Credential id → end of its cooldown here (epoch ms), for the ones cooling now. */
  snapshot(now: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [entry, record] of this.records) {
      if (record.until > now) out[entry.id] = record.until;
    }
    return out;
  }
}

/** Every scope's cooldowns, least recently cooled first. */
export class ScopedCooldowns {
  readonly #scopes = new Map<string, ScopeState>();

  /** @param maxScopes scopes kept at most; beyond it, the least recently cooled is forgotten */
  constructor(readonly maxScopes: number) {}

  get size(): number {
    return this.#scopes.size;
  }

  get(scope: string): ScopeState | undefined {
    return this.#scopes.get(scope);
  }

  /** The scope's state, created (from the pool's available credentials) when it has none. */
  touch(scope: string, available: AvailabilityRing<PoolEntry>): ScopeState {
    let state = this.#scopes.get(scope);
    if (state) {
      this.#scopes.delete(scope);
    } else {
      state = new ScopeState(available);
      if (this.#scopes.size >= this.maxScopes) {
        const oldest = this.#scopes.keys().next().value;
        if (oldest !== undefined) this.#scopes.delete(oldest);
      }
    }
    this.#scopes.set(scope, state);
    return state;
  }

  /** Drops `scope` when it holds no record. */
  dropIfEmpty(scope: string): void {
    if (this.#scopes.get(scope)?.records.size === 0) this.#scopes.delete(scope);
  }

  link(entry: PoolEntry): void {
    for (const state of this.#scopes.values()) state.link(entry);
  }

  unlink(entry: PoolEntry): void {
    for (const state of this.#scopes.values()) state.unlink(entry);
  }

  forget(entry: PoolEntry): void {
    for (const [scope, state] of this.#scopes) if (state.forget(entry)) this.#scopes.delete(scope);
  }

  /** Scopes, most recently cooled first. */
  entries(): [string, ScopeState][] {
    return [...this.#scopes].reverse();
  }
}
