/**
 * Sticky sessions: which credential each session key used last. A least-recently-used table on
 * a Map (its insertion order is the recency order), whose keys also expire: memory stays bounded
 * by `maxSessions` however many keys callers invent, and a key left alone lets its credential go.
 * @module
 */

interface Stuck<T> {
  value: T;
  expiresAt: number;
  /** When the key last moved to the most recent end of the table. */
  movedAt: number;
}

/**
 * A key used again within this long is not moved to the most recent end again: recency is kept
 * to this grain, and a session's requests in a burst cost one lookup each, not a delete and an
 * insert (which also leaves the Map a hole to compact).
 */
const RECENCY_GRAIN_MS = 1_000;

export class StickySessions<T> {
  readonly #table = new Map<string, Stuck<T>>();
  readonly #max: number;
  readonly #ttlMs: number;
  /**
   * The key used last and its record, while the record is in the table: a session's requests
   * mostly come in runs, and each of those then costs a string comparison, not a hash lookup.
   */
  #lastKey: string | undefined;
  #last: Stuck<T> | undefined;

  /**
   * @param maxSessions keys kept at most
   * @param ttlMs a key unused for this long is forgotten
   */
  constructor(maxSessions: number, ttlMs: number) {
    this.#max = maxSessions;
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#table.size;
  }

  /** What `key` stuck to, unless it expired; a hit counts as a use of the key. */
  get(key: string, now: number): T | undefined {
    const stuck = this.#find(key);
    if (stuck === undefined) return undefined;
    if (stuck.expiresAt <= now) {
      this.#delete(key);
      return undefined;
    }
    stuck.expiresAt = now + this.#ttlMs;
    if (now - stuck.movedAt >= RECENCY_GRAIN_MS) this.#moveToEnd(key, stuck, now);
    return stuck.value;
  }

  /** Sticks `key` to `value` and makes it the most recently used (to within a second). */
  set(key: string, value: T, now: number): void {
    const table = this.#table;
    const stuck = this.#find(key);
    if (stuck !== undefined) {
      stuck.value = value;
      stuck.expiresAt = now + this.#ttlMs;
      if (now - stuck.movedAt >= RECENCY_GRAIN_MS) this.#moveToEnd(key, stuck, now);
      return;
    }
    const added = { value, expiresAt: now + this.#ttlMs, movedAt: now };
    table.set(key, added);
    this.#lastKey = key;
    this.#last = added;
    if (table.size > this.#max) {
      const oldest = table.keys().next().value;
      if (oldest !== undefined) this.#delete(oldest);
    }
  }

  /** `key`'s record, from the last lookup when it was the same key. */
  #find(key: string): Stuck<T> | undefined {
    if (key === this.#lastKey) return this.#last;
    const stuck = this.#table.get(key);
    if (stuck !== undefined) {
      this.#lastKey = key;
      this.#last = stuck;
    }
    return stuck;
  }

  #delete(key: string): void {
    this.#table.delete(key);
    if (key === this.#lastKey) {
      this.#lastKey = undefined;
      this.#last = undefined;
    }
  }

  /** Makes `key` the most recent, its record reused: no allocation. */
  #moveToEnd(key: string, stuck: Stuck<T>, now: number): void {
    stuck.movedAt = now;
    this.#table.delete(key);
    this.#table.set(key, stuck);
  }
}
