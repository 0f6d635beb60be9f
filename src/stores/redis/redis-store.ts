/**
 * `RedisTokenStore`: tokens shared by every process and host that uses the same Redis, with a
 * lock per key that serialises refreshes across all of them.
 * @module
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { abortableDelay } from "../../abort.js";
import { raceTimeout } from "../../clock.js";
import { describe, describeSetting } from "../../describe.js";
import { ClosedError, messageOf, StoreError } from "../../errors.js";
import {
  checkFn,
  checkKey,
  checkPrefix,
  checkToken,
  cloneToken,
  KeyedMutex,
  lockTimeoutError,
  normalizeLockOptions,
} from "../memory-store.js";
import type { HealthMark, SharedStateStore, StoreChange } from "../shared-state.js";
import type { LockOptions, StoredToken, TokenStore } from "../types.js";
import { ChangeFeed } from "./change-feed.js";
import { decodeToken, encodeToken } from "./codec.js";
import { ACQUIRE, DELETE, EXTEND, RELEASE, runScript, SAVE, SAVE_HEALTH } from "./scripts.js";

/** Options of {@link RedisTokenStore}. Give `url` or `client`, not both. */
export interface RedisTokenStoreOptions {
  /**
   * `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. The store opens its own
   * connection and {@link RedisTokenStore.close} quits it. The password is never quoted in errors.
   * @default "redis://127.0.0.1:6379" when no `client` is given
   */
  url?: string;
  /**
   * A connection of your own (ioredis 5). The store never closes it, and leaves its settings and
   * its `error` listeners to you: give it bounded `maxRetriesPerRequest` and `commandTimeout` so a
   * Redis that goes away fails calls instead of queueing them.
   * @default undefined
   */
  client?: Redis;
  /**
   * Every Redis key this store touches starts with this, so several applications (or test runs)
   * can share one database.
   * @default "oauthmanager:"
   */
  prefix?: string;
  /**
   * How long a lock outlives its holder: the holder extends it every third of this while its
   * function runs, so only a holder that died (or lost Redis) lets it expire.
   * @default 10_000
   */
  lockLeaseMs?: number;
  /**
   * Every call to Redis gives up after this long and rejects with a `StoreError`; also the
   * connect timeout of a connection the store opens.
   * @default 5_000
   */
  commandTimeoutMs?: number;
  /**
   * The longest wait between two tries for a lock another process holds. A holder announces its
   * release and wakes the waiters at once; this bounds the wait when that message is lost or the
   * holder died.
   * @default 1_000
   */
  lockRetryMs?: number;
  /**
   * Watchers (the managers using the store) re-read what they hold this often, in case a change
   * announced while their connection was down was lost.
   * @default 30_000
   */
  resyncIntervalMs?: number;
}

/** Where a store without `url` or `client` connects. */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
/** What every key of a store without `prefix` starts with. */
export const DEFAULT_REDIS_PREFIX = "oauthmanager:";
const DEFAULT_LOCK_LEASE_MS = 10_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
const DEFAULT_LOCK_RETRY_MS = 1_000;
const DEFAULT_RESYNC_INTERVAL_MS = 30_000;

/**
 * The wait between two tries for a lock another process holds while no release can be announced
 * (the subscription is not up yet): doubles from the first to the last.
 */
const FIRST_POLL_MS = 5;
const LAST_POLL_MS = 200;

const OPTION_KEYS = new Set([
  "url",
  "client",
  "prefix",
  "lockLeaseMs",
  "commandTimeoutMs",
  "lockRetryMs",
  "resyncIntervalMs",
]);

/** The lock this store holds on one key, and the version that fences its saves of that key. */
interface Lease {
  readonly lockKey: string;
  /** Random per acquisition: only this holder may extend or release it. */
  readonly owner: string;
  /** The key's version when the lock was taken, then after each of this holder's saves. */
  expectedVersion: number;
  stopExtending: () => void;
}

/**
 * A {@link TokenStore} in Redis (ioredis 5), for several processes or hosts sharing one pool.
 *
 * - Saves are atomic and versioned by a server-side script: `version` is one more than the stored
 *   one on every save, whatever is passed in.
 * - `withLock` holds a Redis lock (`SET NX PX` with a random owner value, extended while `fn` runs,
 *   released only by its owner), after an in-process queue that keeps this process's own callers
 *   in arrival order.
 * - Fencing: while this store holds the lock on a key, its saves of that key are refused with a
 *   `StoreError` when the lock has passed to another holder (this one's lease expired) and that key
 *   was written since this one took it, so a stale holder never overwrites a newer token.
 * - Redis unreachable: every call rejects with a `StoreError` within `commandTimeoutMs`; connection
 *   errors of a connection the store opened are absorbed, never thrown or emitted.
 * - Sharing: every save, delete and lock release is announced on the channel `<prefix>changes`
 *   (a second connection, opened when first needed, subscribes to it), so a process waiting for a
 *   lock tries again the moment it is free, and managers take other processes' tokens and health
 *   marks (`watch`, `saveHealthMark`, `loadHealthMarks`) as soon as they change.
 *
 * @example
 * ```ts
 * import { RedisTokenStore } from "oauthmanager/redis";
 * const store = new RedisTokenStore({ url: process.env.REDIS_URL, prefix: "myapp:oauth:" });
 * const manager = new OAuthKeyManager("gemini", credentials, refresh, { store });
 * // on shutdown, after manager.close():
 * await store.close();
 * ```
 */
export class RedisTokenStore implements TokenStore, SharedStateStore {
  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #leaseMs: number;
  readonly #timeoutMs: number;
  readonly #retryMs: number;
  /** Where every change is announced. */
  readonly #channel: string;
  /** This store's name in its announcements, random. */
  readonly #origin = randomBytes(9).toString("base64url");
  readonly #feed: ChangeFeed;
  /** `RedisTokenStore (host:port)`, for messages: never the URL, which may carry the password. */
  readonly #name: string;
  /** Removed from any message of Redis or ioredis that might quote them. */
  readonly #secrets: readonly string[];
  readonly #localLocks = new KeyedMutex();
  /** By store key, while this store holds the lock on it. */
  readonly #leases = new Map<string, Lease>();
  #closed = false;

  /**
   * @throws {TypeError} for an unknown option, a `url` that is not a Redis URL, both `url` and
   *   `client`, or a `client` that is not an ioredis client
   * @throws {RangeError} for a `lockLeaseMs`, `commandTimeoutMs`, `lockRetryMs` or
   *   `resyncIntervalMs` that is not an integer >= 1
   */
  constructor(options: RedisTokenStoreOptions = {}) {
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) {
        throw new TypeError(
          `Unknown RedisTokenStore option \`${key}\`; expected one of ${[...OPTION_KEYS].join(", ")}`,
        );
      }
    }
    const { url, client } = options;
    this.#prefix = checkStorePrefix(options.prefix);
    this.#leaseMs = checkMs("lockLeaseMs", options.lockLeaseMs, DEFAULT_LOCK_LEASE_MS);
    this.#timeoutMs = checkMs(
      "commandTimeoutMs",
      options.commandTimeoutMs,
      DEFAULT_COMMAND_TIMEOUT_MS,
    );
    this.#retryMs = checkMs("lockRetryMs", options.lockRetryMs, DEFAULT_LOCK_RETRY_MS);
    const resyncIntervalMs = checkMs(
      "resyncIntervalMs",
      options.resyncIntervalMs,
      DEFAULT_RESYNC_INTERVAL_MS,
    );
    this.#channel = `${this.#prefix}changes`;
    this.#feed = new ChangeFeed({
      // Its own connection, whoever owns the main one: a subscribed connection runs no commands.
      connect: () => this.#client.duplicate({ autoResubscribe: false }),
      channel: this.#channel,
      origin: this.#origin,
      resyncIntervalMs,
    });

    if (client !== undefined) {
      if (url !== undefined) {
        throw new TypeError("Expected `url` or `client`, got both");
      }
      if (!isRedisClient(client)) {
        throw new TypeError(`Expected \`client\` to be an ioredis client, got ${describe(client)}`);
      }
      this.#client = client;
      this.#ownsClient = false;
      const { host, port, path, password } = client.options;
      this.#name = `RedisTokenStore (${path ?? `${host}:${port}`})`;
      this.#secrets = password ? [password] : [];
      this.#watchReconnects();
      return;
    }

    const parsed = parseRedisUrl(url ?? DEFAULT_REDIS_URL);
    this.#name = `RedisTokenStore (${parsed.hostname}:${parsed.port || 6379})`;
    this.#secrets = parsed.password ? [parsed.password, decodeURIComponent(parsed.password)] : [];
    this.#client = new Redis(parsed.href, {
      // Commands issued while connecting wait in ioredis's queue, but only until the next
      // reconnect attempt fails: a Redis that is down fails calls instead of piling them up.
      maxRetriesPerRequest: 1,
      commandTimeout: this.#timeoutMs,
      connectTimeout: this.#timeoutMs,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    });
    this.#ownsClient = true;
    // Without a listener ioredis prints every failed reconnect; each call that needed the
    // connection reports the failure as a StoreError instead.
    this.#client.on("error", () => {});
    this.#watchReconnects();
  }

  /**
   * The stored token, or undefined when none.
   * @throws {StoreError} when Redis fails or does not answer in time, or the record is unreadable
   */
  async load(key: string): Promise<StoredToken | undefined> {
    this.#ensureOpen();
    checkKey(key);
    const [v, data] = await this.#call("load", () =>
      this.#client.hmget(this.#tokenKey(key), "v", "data"),
    );
    if ((v ?? null) === null && (data ?? null) === null) return undefined;
    return this.#decode(key, v ?? null, data ?? null);
  }

  /** Every stored key starting with `prefix` (`""` for all), with its token. */
  async loadAll(prefix: string): Promise<Map<string, StoredToken>> {
    this.#ensureOpen();
    checkPrefix(prefix);
    const [min, max] = prefixRange(prefix);
    const keys = await this.#call("load", () =>
      this.#client.zrangebylex(this.#indexKey(), min, max),
    );
    const out = new Map<string, StoredToken>();
    if (keys.length === 0) return out;
    const pipeline = this.#client.pipeline();
    for (const key of keys) pipeline.hmget(this.#tokenKey(key), "v", "data");
    const replies = (await this.#call("load", () => pipeline.exec())) ?? [];
    for (const [i, key] of keys.entries()) {
      const [err, reply] = replies[i] ?? [new Error("no reply"), undefined];
      if (err) throw this.#failure("load", err);
      const [v, data] = reply as (string | null)[];
      // Deleted between the listing and the read.
      if ((v ?? null) === null && (data ?? null) === null) continue;
      if (key.startsWith(prefix)) out.set(key, this.#decode(key, v ?? null, data ?? null));
    }
    return out;
  }

  /**
   * Stores `token` under `key` atomically; its `version` becomes one more than the stored one's.
   * Resolves with a copy of what was stored.
   * @throws {TypeError} when `token` is not a valid {@link StoredToken}
   * @throws {StoreError} when Redis fails, or when fencing refuses the write (see the class)
   */
  async save(key: string, token: StoredToken): Promise<StoredToken> {
    this.#ensureOpen();
    checkKey(key);
    checkToken(token);
    const lease = this.#leases.get(key);
    const data = encodeToken(token, new Date());
    const reply = await this.#call("save", () =>
      runScript(
        this.#client,
        SAVE,
        [this.#tokenKey(key), this.#indexKey(), this.#lockKey(key), this.#healthKey(key)],
        [data, key, lease?.owner ?? "", lease?.expectedVersion ?? 0, this.#channel, this.#origin],
      ),
    );
    if (reply === -1) {
      throw new StoreError(
        `${this.#name}: refused to save ${key}: this process's lock on it expired, and another holder has saved a newer version since`,
      );
    }
    if (typeof reply !== "number") {
      throw new StoreError(`${this.#name}: save of ${key} got an unexpected reply from Redis`);
    }
    if (lease) lease.expectedVersion = reply;
    return cloneToken(token, reply);
  }

  /** Removes `key`; removing a key that is not there is not an error. */
  async delete(key: string): Promise<void> {
    this.#ensureOpen();
    checkKey(key);
    await this.#call("delete", () =>
      runScript(
        this.#client,
        DELETE,
        [this.#tokenKey(key), this.#indexKey(), this.#healthKey(key)],
        [key, this.#channel, this.#origin],
      ),
    );
  }

  /**
   * Runs `fn` while holding the lock on `key` shared by every process using this Redis and
   * prefix. Not re-entrant.
   * @throws {LockTimeoutError} when another holder kept the lock for the whole `timeoutMs`
   *   (@default 30_000)
   * @throws {StoreError} when the lock cannot be had at all (Redis down or not answering)
   * @throws `signal.reason` when `signal` aborts before the lock is taken
   */
  async withLock<T>(key: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    this.#ensureOpen();
    checkKey(key);
    checkFn(fn);
    const { timeoutMs, signal } = normalizeLockOptions(options);
    const deadline = performance.now() + timeoutMs;
    const timedOut = () => lockTimeoutError(this.#name, key, timeoutMs);
    // This process's own callers queue here, so only one of them at a time polls Redis.
    const releaseLocal = await this.#localLocks.acquire(key, timeoutMs, signal, timedOut);
    try {
      const lease = await this.#acquire(key, deadline, signal, timedOut);
      this.#leases.set(key, lease);
      try {
        return await fn();
      } finally {
        lease.stopExtending();
        this.#leases.delete(key);
        // Not awaited: commands on one connection run in order, so a later acquire of this key
        // sees the release; a Redis that is down lets the lease expire instead.
        this.#release(key, lease.owner).catch(() => {});
      }
    } finally {
      releaseLocal();
    }
  }

  /**
   * Calls `listener` with every change other stores make to keys starting with `prefix` (a save,
   * a delete, a health mark), and with `resync` when some may have been missed: once the
   * subscription is up (again), and every `resyncIntervalMs`. Opens the subscriber connection.
   * @returns a function that stops the calls
   */
  watch(prefix: string, listener: (change: StoreChange) => void): () => void {
    this.#ensureOpen();
    checkPrefix(prefix);
    if (typeof listener !== "function") {
      throw new TypeError(`Expected \`listener\` to be a function, got ${describe(listener)}`);
    }
    return this.#feed.watch(prefix, listener);
  }

  /**
   * Stores a health mark on `key` until it runs out (by Redis's clock, so hosts' clocks do not
   * matter), and announces it. A mark never shortens a longer one of the same kind and scope.
   * @throws {StoreError} when Redis fails or does not answer in time
   */
  async saveHealthMark(key: string, mark: HealthMark): Promise<void> {
    this.#ensureOpen();
    checkKey(key);
    const { kind, remainingMs, scope } = checkMark(mark);
    await this.#call("save health", () =>
      runScript(
        this.#client,
        SAVE_HEALTH,
        [this.#healthKey(key)],
        [key, kind, scope ?? "", remainingMs, this.#channel, this.#origin],
      ),
    );
  }

  /**
   * The health marks still holding on every stored key starting with `prefix` (`""` for all).
   * @throws {StoreError} when Redis fails or does not answer in time
   */
  async loadHealthMarks(prefix: string): Promise<Map<string, HealthMark[]>> {
    this.#ensureOpen();
    checkPrefix(prefix);
    const [min, max] = prefixRange(prefix);
    const keys = (
      await this.#call("load health", () => this.#client.zrangebylex(this.#indexKey(), min, max))
    ).filter((key) => key.startsWith(prefix));
    const out = new Map<string, HealthMark[]>();
    if (keys.length === 0) return out;
    const pipeline = this.#client.pipeline().time();
    for (const key of keys) pipeline.hgetall(this.#healthKey(key));
    const replies = (await this.#call("load health", () => pipeline.exec())) ?? [];
    const [timeErr, time] = replies[0] ?? [new Error("no reply"), undefined];
    if (timeErr) throw this.#failure("load health", timeErr);
    const [seconds, micros] = time as [string, string];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    for (const [i, key] of keys.entries()) {
      const [err, reply] = replies[i + 1] ?? [new Error("no reply"), undefined];
      if (err) throw this.#failure("load health", err);
      const marks = parseMarks(reply as Record<string, string>, now);
      if (marks.length > 0) out.set(key, marks);
    }
    return out;
  }

  /**
   * Stops lock extensions, closes the subscriber connection, and quits a connection the store
   * opened from `url` (a `client` given to it stays open). Later calls reject with `ClosedError`.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const lease of this.#leases.values()) lease.stopExtending();
    this.#feed.close();
    if (!this.#ownsClient) return;
    const client = this.#client;
    if (client.status === "ready") {
      await raceTimeout(client.quit(), this.#timeoutMs, () => new Error("quit timed out")).catch(
        () => {},
      );
    }
    client.disconnect();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Tries for the lock until `deadline`, backing off between tries. */
  async #acquire(
    key: string,
    deadline: number,
    signal: AbortSignal | undefined,
    timedOut: () => Error,
  ): Promise<Lease> {
    const lockKey = this.#lockKey(key);
    const owner = randomBytes(16).toString("base64url");
    let delay = FIRST_POLL_MS;
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      this.#ensureOpen();
      // Listening before trying, so a release between the try and the wait is not missed.
      const wake = this.#feed.live ? this.#feed.wake(key) : undefined;
      let reply: unknown;
      try {
        reply = await this.#call("lock", () =>
          runScript(this.#client, ACQUIRE, [lockKey, this.#tokenKey(key)], [owner, this.#leaseMs]),
        );
      } catch (err) {
        wake?.cancel();
        throw err;
      }
      if (typeof reply === "number" && reply >= 0) {
        wake?.cancel();
        const lease: Lease = {
          lockKey,
          owner,
          expectedVersion: reply,
          stopExtending: () => {},
        };
        if (signal?.aborted) {
          this.#release(key, owner).catch(() => {});
          throw signal.reason;
        }
        lease.stopExtending = this.#keepExtending(lease);
        return lease;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        wake?.cancel();
        throw timedOut();
      }
      if (wake) {
        // The holder's release wakes this wait; the poll only covers a lost message or a dead
        // holder. Jitter, so processes that lost together do not all retry together.
        try {
          await wake.wait(Math.min(this.#retryMs * (0.5 + Math.random() / 2), left), signal);
        } finally {
          wake.cancel();
        }
        continue;
      }
      // Announcements are not heard yet: poll, and subscribe for the next wait.
      this.#feed.start();
      await abortableDelay(Math.min(delay * (0.5 + Math.random()), left), signal);
      delay = Math.min(delay * 2, LAST_POLL_MS);
    }
  }

  /**
   * Once the connection is back after a loss, watchers re-read: what they wrote meanwhile may be
   * missing (a Redis restarted empty) and what others wrote was not announced to them. The
   * subscriber connection does the same when it comes back; either may be first.
   */
  #watchReconnects(): void {
    let lost = false;
    this.#client.on("close", () => {
      lost = true;
    });
    this.#client.on("ready", () => {
      if (!lost) return;
      lost = false;
      this.#feed.resync();
    });
  }

  /** Deletes the lock if it is still `owner`'s, and announces it to the waiters. */
  #release(key: string, owner: string): Promise<unknown> {
    return this.#call("unlock", () =>
      runScript(
        this.#client,
        RELEASE,
        [this.#lockKey(key)],
        [owner, this.#channel, key, this.#origin],
      ),
    );
  }

  /** Extends the lease every third of its length until stopped or lost. */
  #keepExtending(lease: Lease): () => void {
    let busy = false;
    const timer = setInterval(
      () => {
        if (busy) return;
        busy = true;
        this.#call("extend lock", () =>
          runScript(this.#client, EXTEND, [lease.lockKey], [lease.owner, this.#leaseMs]),
        )
          .then((extended) => {
            // Lost to another holder: this one's saves of the key are fenced from now on.
            if (extended === 0) clearInterval(timer);
          })
          // Redis not answering: the lease may still be extended in time once it is back.
          .catch(() => {})
          .finally(() => {
            busy = false;
          });
      },
      Math.max(1, Math.floor(this.#leaseMs / 3)),
    );
    // The caller awaiting fn keeps the process alive if anything should; a lease alone must not.
    timer.unref();
    return () => clearInterval(timer);
  }

  #decode(key: string, v: string | null, data: string | null): StoredToken {
    const result =
      v === null || data === null
        ? { problem: "its version or data is missing" }
        : decodeToken(data, v);
    if ("token" in result) return result.token;
    throw new StoreError(`${this.#name}: the record of ${key} is unreadable: ${result.problem}`);
  }

  /** Runs one Redis call bounded by the command timeout; every failure becomes a StoreError. */
  async #call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await raceTimeout(
        run(),
        this.#timeoutMs,
        () => new StoreError(`${this.#name}: ${operation} timed out after ${this.#timeoutMs} ms`),
      );
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw this.#failure(operation, err);
    }
  }

  /**
   * Our error for a Redis failure. The cause is a copy with the message only: ioredis hangs the
   * command's arguments on its errors, and those hold tokens (a save) or the password (AUTH).
   */
  #failure(operation: string, err: unknown): StoreError {
    let message = messageOf(err);
    for (const secret of this.#secrets) message = message.replaceAll(secret, "[REDACTED]");
    const cause = new Error(message);
    if (err instanceof Error) cause.name = err.name;
    return new StoreError(`${this.#name}: ${operation} failed: ${message}`, { cause });
  }

  #tokenKey(key: string): string {
    return `${this.#prefix}token:${key}`;
  }

  #lockKey(key: string): string {
    return `${this.#prefix}lock:${key}`;
  }

  #healthKey(key: string): string {
    return `${this.#prefix}health:${key}`;
  }

  #indexKey(): string {
    return `${this.#prefix}index`;
  }

  #ensureOpen(): void {
    if (this.#closed) throw new ClosedError(this.#name);
  }
}

/** The ZRANGEBYLEX bounds of every member starting with `prefix`. */
function prefixRange(prefix: string): [string | Buffer, string | Buffer] {
  if (prefix === "") return ["-", "+"];
  // 0xff never occurs in UTF-8, so it sorts after every string that starts with the prefix.
  return [`[${prefix}`, Buffer.concat([Buffer.from(`(${prefix}`), Buffer.from([0xff])])];
}

function parseRedisUrl(url: unknown): URL {
  if (typeof url !== "string") {
    throw new TypeError(`Expected \`url\` to be a redis:// or rediss:// URL, got ${describe(url)}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not quoted: a Redis URL may carry the password.
    throw new TypeError(
      "Expected `url` to be a redis:// or rediss:// URL, got a string that is not a URL",
    );
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `Expected \`url\` to be a redis:// or rediss:// URL, got a ${parsed.protocol} URL`,
    );
  }
  return parsed;
}

function checkStorePrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_REDIS_PREFIX;
  if (typeof prefix !== "string" || prefix === "") {
    throw new TypeError(`Expected \`prefix\` to be a non-empty string, got ${describe(prefix)}`);
  }
  return prefix;
}

function checkMs(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Expected \`${name}\` to be an integer >= 1 (milliseconds), got ${describeSetting(value)}`,
    );
  }
  return value;
}

const MARK_KINDS = new Set(["cooldown", "needs_reauth"]);

function checkMark(mark: unknown): HealthMark {
  const m = mark as Partial<HealthMark> | null;
  if (typeof m !== "object" || m === null || !MARK_KINDS.has(m.kind as string)) {
    throw new TypeError(
      `Expected \`mark.kind\` to be "cooldown" or "needs_reauth", got ${describe(m?.kind)}`,
    );
  }
  // Required: no fallback stands in for a missing duration.
  checkMs("mark.remainingMs", m.remainingMs ?? Number.NaN, 1);
  if (m.scope !== undefined && (typeof m.scope !== "string" || m.scope === "")) {
    throw new TypeError(
      `Expected \`mark.scope\` to be a non-empty string, got ${describe(m.scope)}`,
    );
  }
  return m as HealthMark;
}

/** The marks of one health hash that have not run out by `now` (Redis's clock). */
function parseMarks(fields: Record<string, string>, now: number): HealthMark[] {
  const marks: HealthMark[] = [];
  for (const [field, value] of Object.entries(fields)) {
    const remainingMs = Number(value) - now;
    if (!(remainingMs > 0)) continue;
    const at = field.indexOf("@");
    const kind = at === -1 ? field : field.slice(0, at);
    if (!MARK_KINDS.has(kind)) continue;
    const mark: HealthMark = { kind: kind as HealthMark["kind"], remainingMs };
    if (at !== -1) mark.scope = field.slice(at + 1);
    marks.push(mark);
  }
  return marks;
}

/** Duck-typed, so a client from another copy of ioredis is accepted too. */
function isRedisClient(value: unknown): value is Redis {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.evalsha === "function" &&
    typeof c.hmget === "function" &&
    typeof c.pipeline === "function" &&
    typeof c.options === "object"
  );
}
