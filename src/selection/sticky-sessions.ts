/**
 * Sticky sessions: which credential each session key used last. A least-recently-used table on
 * a Map (its insertion order is the recency order), whose keys also expire: memory stays bounded
 * by `maxSessions` however many keys callers invent, and a key left alone lets its credential go.
 * @module
 */

interface Stuck<T> {
  value: T;
  expiresAt: number;
}

export class StickySessions<T> {
  readonly #table = new Map<string, Stuck<T>>();
  readonly #max: number;
  readonly #ttlMs: number;

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

  /** What `key` stuck to, unless it expired. */
  get(key: string, now: number): T | undefined {
    const stuck = this.#table.get(key);
    if (stuck === undefined) return undefined;
    if (stuck.expiresAt <= now) {
      this.#table.delete(key);
      return undefined;
    }
    return stuck.value;
  }

  /** Sticks `key` to `value` and makes it the most recently used. */
  set(key: string, value: T, now: number): void {
    const table = this.#table;
    const stuck = table.get(key);
    if (stuck !== undefined) {
      // Moved to the end (most recent) with its record reused: no allocation per request.
      table.delete(key);
      stuck.value = value;
      stuck.expiresAt = now + this.#ttlMs;
      table.set(key, stuck);
      return;
    }
    table.set(key, { value, expiresAt: now + this.#ttlMs });
    if (table.size > this.#max) {
      const oldest = table.keys().next().value;
      if (oldest !== undefined) table.delete(oldest);
    }
  }
}
