/**
 * `FileTokenStore`: every token in one JSON file, written atomically, locked across processes,
 * optionally encrypted.
 *
 * ## File format (version 1)
 *
 * A plain file is a JSON object, pretty-printed so a person can read and fix it:
 *
 * ```json
 * {
 *   "version": 1,
 *   "tokens": {
 *     "gemini/work": {
 *       "access_token": "ya29.…",
 *       "refresh_token": "1//0g…",
 *       "expires_at": "2026-11-25T10:00:00.000Z",
 *       "last_refresh": "2026-11-25T09:00:00.000Z",
 *       "refresh_count": 3,
 *       "scopes": ["openid"],
 *       "rotation": {
 *         "created_at": "2026-11-01T00:00:00.000Z",
 *         "marked_for_rotation": false,
 *         "rotation_started_at": "…", "replacement_id": "work-2", "decommission_at": "…"
 *       },
 *       "version": 4,
 *       "updated_at": "2026-11-25T09:00:00.012Z"
 *     }
 *   }
 * }
 * ```
 *
 * - `version` (top level): the format version; only `1` is read.
 * - `tokens`: one entry per store key (the manager uses `"<provider>/<credentialId>"`).
 *   `access_token` is required; every other field is optional and absent when unset (never `null`).
 * - Dates are RFC 3339 strings (written in UTC with milliseconds; any offset is read).
 * - Unknown fields are ignored when read and not kept by the next write.
 * - `version` (per token) is set by the store: one more on every save of that key.
 *   `updated_at` is when the store last wrote that key.
 *
 * With an encryption key the file holds only ciphertext, the plain document above encrypted with
 * AES-256-GCM (a fresh random 12-byte IV on every write; every field base64):
 *
 * ```json
 * { "version": 1, "encrypted": { "alg": "A256GCM", "iv": "…", "tag": "…", "data": "…" } }
 * ```
 *
 * Beside the file live `<file>.lock` (held during each read-modify-write) and
 * `<file>.<16 hex>.lock` (one per key, held by {@link FileTokenStore.withLock}); both are
 * directories made by proper-lockfile and removed on release. A file that cannot be read is
 * copied to `<file>.corrupt`.
 * @module
 */
import { createHash, type KeyObject, randomBytes } from "node:crypto";
import * as nodeFs from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import lockfile from "proper-lockfile";
import * as z from "zod";
import { type Clock, raceTimeout, systemClock } from "../clock.js";
import { ClosedError, StoreError } from "../errors.js";
import type { Logger } from "../types.js";
import {
  decrypt,
  ENCRYPTION_ALG,
  ENCRYPTION_KEY_ENV,
  encrypt,
  parseEncryptionKey,
} from "./crypto.js";
import {
  checkFn,
  checkKey,
  checkPrefix,
  checkToken,
  cloneToken,
  describe,
  KeyedMutex,
  lockTimeoutError,
  normalizeLockOptions,
} from "./memory-store.js";
import type { LockOptions, StoredRotation, StoredToken, TokenStore } from "./types.js";

/** The file system calls the store makes; replaceable so tests can inject faults. @internal */
export type FileStoreFs = Pick<
  typeof nodeFs,
  "open" | "readFile" | "rename" | "unlink" | "mkdir" | "chmod" | "stat" | "readdir"
>;

/** Options of {@link FileTokenStore}. */
export interface FileTokenStoreOptions {
  /** The JSON file holding every token. Its directory is created (mode 0700) when missing. */
  path: string;
  /**
   * Encrypts the file with AES-256-GCM: 32 bytes, or a string holding 32 bytes as 64 hex digits
   * or base64. @default the `OAUTHMANAGER_ENCRYPTION_KEY` environment variable; none: plain JSON
   */
  encryptionKey?: string | Uint8Array | undefined;
  /** Each load, loadAll, save and delete fails with a `StoreError` after this long. @default 5_000 */
  timeoutMs?: number | undefined;
  /**
   * A lock whose holder has not refreshed it for this long is taken over: its process is
   * presumed dead. The holder refreshes it every `lockStaleMs / 2`. At least 2_000. @default 10_000
   */
  lockStaleMs?: number | undefined;
  /** Where warnings go (a lock lost, a mode it could not fix). @default console */
  logger?: Logger | undefined;
  /** The clock behind `updated_at`. @default Date.now */
  now?: Clock | undefined;
  /** Replaces the file system calls; for fault-injection tests only. @internal */
  fs?: FileStoreFs | undefined;
}

/** What one key holds in the file, as on disk. */
interface FileEntry {
  token: StoredToken;
  updatedAt: string | undefined;
}

const FORMAT_VERSION = 1;
const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_STALE_MS = 10_000;
/** proper-lockfile will not go lower: its mtime refresh runs at most every second. */
const MIN_STALE_MS = 2_000;
const LOCK_RETRY_MIN_MS = 20;
const LOCK_RETRY_MAX_MS = 250;
/** Waiting longer than this for a lock is worth a warning (RELIABILITY L3). */
const LOCK_SLOW_WARN_MS = 5_000;
const MAX_TIMER_MS = 2_147_483_647;
const MAX_CORRUPT_COPIES = 10;
const MAX_ISSUES_SHOWN = 5;

const dateString = z.iso.datetime({
  offset: true,
  error: "expected an RFC 3339 date-time string",
});
const count = z
  .number({ error: "expected an integer >= 0" })
  .int({ error: "expected an integer >= 0" })
  .nonnegative({ error: "expected an integer >= 0" });
const str = z.string({ error: "expected a string" });

const wireRotation = z.object(
  {
    created_at: dateString,
    marked_for_rotation: z.boolean({ error: "expected true or false" }),
    rotation_started_at: dateString.optional(),
    replacement_id: str.optional(),
    decommission_at: dateString.optional(),
  },
  { error: "expected an object" },
);

const wireToken = z.object(
  {
    access_token: str,
    refresh_token: str.optional(),
    expires_at: dateString.optional(),
    last_refresh: dateString.optional(),
    refresh_count: count.optional(),
    scopes: z.array(str, { error: "expected an array of strings" }).optional(),
    rotation: wireRotation.optional(),
    version: count.optional(),
    updated_at: dateString.optional(),
  },
  { error: "expected an object" },
);

const wireEncrypted = z.object({
  version: z.literal(FORMAT_VERSION, { error: `expected ${FORMAT_VERSION}` }),
  encrypted: z.object(
    {
      alg: z.literal(ENCRYPTION_ALG, { error: `expected "${ENCRYPTION_ALG}"` }),
      iv: str,
      tag: str,
      data: str,
    },
    { error: "expected an object" },
  ),
});

type WireToken = z.infer<typeof wireToken>;
type WireRotation = z.infer<typeof wireRotation>;

/**
 * A token store in one JSON file (format in this module's documentation), safe to share between
 * processes on one host:
 * - every write goes to a 0600 temp file in the same directory, is fsynced and renamed over the
 *   file, then the directory is fsynced, so a crash leaves the old file or the new one, never a mix
 *   (RELIABILITY F19, S3);
 * - the directory is kept at 0700 and the file at 0600, including ones that existed before (S2);
 * - each save and delete re-reads the file under a cross-process lock, so no update is lost;
 * - `withLock(key)` is a per-key lock shared by every process, and `load` always reads the disk,
 *   so a process that takes the lock sees the token another one just saved (F2, L4);
 * - a file that is not valid JSON, fails validation or cannot be decrypted is never read as
 *   empty and never overwritten: every call rejects with a `StoreError` naming it, and a copy is
 *   kept as `<file>.corrupt` (F19, B18). A missing file is an empty store.
 *
 * A timed-out `save` may still complete in the background; it never leaves a partial file.
 *
 * @example
 * ```ts
 * const store = new FileTokenStore({ path: `${os.homedir()}/.config/oauthmanager/tokens.json` });
 * const manager = new OAuthKeyManager("gemini", credentials, refresh, { store });
 * ```
 */
export class FileTokenStore implements TokenStore {
  readonly #path: string;
  readonly #dir: string;
  readonly #key: KeyObject | undefined;
  readonly #timeoutMs: number;
  readonly #staleMs: number;
  readonly #logger: Logger;
  readonly #now: Clock;
  readonly #fs: FileStoreFs;
  /** Serialises this instance's own writers before they compete for the file lock. */
  readonly #fileMutex = new KeyedMutex();
  readonly #keyMutex = new KeyedMutex();
  readonly #inflight = new Set<Promise<void>>();
  #prepared: Promise<void> | undefined;
  #closed = false;
  #warnedPlain = false;
  #orphansRemoved = false;

  /**
   * @throws {TypeError} when `path` is not a non-empty string.
   * @throws {RangeError} when `timeoutMs` or `lockStaleMs` is out of range.
   * @throws {ConfigError} when the encryption key (option or environment) is not 32 bytes.
   */
  constructor(options: FileTokenStoreOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    if (typeof options.path !== "string" || options.path.length === 0) {
      throw new TypeError(
        `Expected \`options.path\` to be a non-empty string, got ${describe(options.path)}`,
      );
    }
    this.#path = path.resolve(options.path);
    this.#dir = path.dirname(this.#path);
    this.#timeoutMs = checkMs("timeoutMs", options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 1);
    this.#staleMs = checkMs("lockStaleMs", options.lockStaleMs ?? DEFAULT_STALE_MS, MIN_STALE_MS);
    this.#logger = options.logger ?? console;
    this.#now = options.now ?? systemClock;
    this.#fs = options.fs ?? nodeFs;
    const envKey = process.env[ENCRYPTION_KEY_ENV];
    if (options.encryptionKey !== undefined) {
      this.#key = parseEncryptionKey(options.encryptionKey, "encryptionKey");
    } else if (envKey !== undefined && envKey !== "") {
      this.#key = parseEncryptionKey(envKey, ENCRYPTION_KEY_ENV);
    }
  }

  /** The absolute path of the file. */
  get path(): string {
    return this.#path;
  }

  /** Whether the file is written encrypted. */
  get encrypted(): boolean {
    return this.#key !== undefined;
  }

  /**
   * The token stored under `key`, read from disk (never from a cache), or undefined.
   * @throws {StoreError} when the file cannot be read, parsed, validated or decrypted, or the
   * read times out.
   */
  async load(key: string): Promise<StoredToken | undefined> {
    this.#ensureOpen();
    checkKey(key);
    return this.#run("load", async () => (await this.#read()).get(key)?.token);
  }

  /** Every stored key starting with `prefix` (`""` for all), with its token. @throws {StoreError} */
  async loadAll(prefix: string): Promise<Map<string, StoredToken>> {
    this.#ensureOpen();
    checkPrefix(prefix);
    return this.#run("loadAll", async () => {
      const out = new Map<string, StoredToken>();
      for (const [key, entry] of await this.#read()) {
        if (key.startsWith(prefix)) out.set(key, entry.token);
      }
      return out;
    });
  }

  /**
   * Writes `token` under `key` and resolves with it as stored: `version` one more than the stored
   * one's (a `version` passed in is ignored).
   * @throws {TypeError} when `token` is not a valid {@link StoredToken}.
   * @throws {StoreError} when the file cannot be read or written, or the call times out; the file
   * is then unchanged.
   */
  async save(key: string, token: StoredToken): Promise<StoredToken> {
    this.#ensureOpen();
    checkKey(key);
    checkToken(token);
    const copy = cloneToken(token);
    return this.#run("save", (deadline) =>
      this.#mutate(deadline, (entries) => {
        const next = cloneToken(copy, (entries.get(key)?.token.version ?? 0) + 1);
        entries.set(key, { token: next, updatedAt: new Date(this.#now()).toISOString() });
        return { result: cloneToken(next), changed: true };
      }),
    );
  }

  /** Removes `key`; a key that is not there is not an error. @throws {StoreError} */
  async delete(key: string): Promise<void> {
    this.#ensureOpen();
    checkKey(key);
    return this.#run("delete", (deadline) =>
      this.#mutate(deadline, (entries) => ({ result: undefined, changed: entries.delete(key) })),
    );
  }

  /**
   * Runs `fn` while holding the lock on `key`, shared with every process using the same file
   * (a lock file per key beside it). Inside `fn`, `load` reads what the previous holder saved.
   * Not re-entrant.
   * @throws {StoreError} when the lock was not taken within `timeoutMs` (@default 30_000).
   * @throws `signal.reason` when `signal` aborts before the lock is taken.
   */
  async withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    this.#ensureOpen();
    checkKey(key);
    checkFn(fn);
    const { timeoutMs, signal } = normalizeLockOptions(options);
    signal?.throwIfAborted();
    const deadline = performance.now() + timeoutMs;
    const timeoutError = () => lockTimeoutError("FileTokenStore", key, timeoutMs, this.#path);
    const releaseLocal = await this.#keyMutex.acquire(key, timeoutMs, signal, timeoutError);
    let releaseFile: () => Promise<void>;
    try {
      await this.#prepare();
      await this.#ensureDir();
      releaseFile = await this.#lockFile(this.#keyLockTarget(key), deadline, signal, timeoutError);
    } catch (err) {
      releaseLocal();
      throw err;
    }
    try {
      return await fn();
    } finally {
      await this.#unlockFile(releaseFile);
      releaseLocal();
    }
  }

  /**
   * Rejects every later call with `ClosedError` and waits for calls in flight to finish, at most
   * `timeoutMs` (a hung file system must not hang shutdown). Idempotent. Locks held by a running
   * `withLock` are released when its `fn` settles.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#inflight.size === 0) return;
    await raceTimeout(
      Promise.all(this.#inflight),
      this.#timeoutMs,
      () => new Error("timeout"),
    ).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // -------------------------------------------------------------------------------------------

  #ensureOpen(): void {
    if (this.#closed) throw new ClosedError("FileTokenStore");
  }

  /** Runs one operation under the store's timeout, tracked so `close()` can wait for it. */
  #run<T>(op: string, work: (deadline: number) => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.#timeoutMs;
    const promise = (async () => {
      await this.#prepare();
      return work(deadline);
    })();
    const settled = promise.then(
      () => {},
      () => {},
    );
    this.#inflight.add(settled);
    void settled.then(() => this.#inflight.delete(settled));
    return raceTimeout(promise, this.#timeoutMs, () => {
      return new StoreError(
        `FileTokenStore: ${op} timed out after ${this.#timeoutMs} ms (${this.#path})`,
        { path: this.#path },
      );
    });
  }

  /** Read-modify-write under the file lock. `change` edits the entries in place. */
  async #mutate<R>(
    deadline: number,
    change: (entries: Map<string, FileEntry>) => { result: R; changed: boolean },
  ): Promise<R> {
    const timeoutError = () =>
      new StoreError(`FileTokenStore: timed out waiting for the lock on ${this.#path}`, {
        path: this.#path,
      });
    const remaining = Math.max(0, deadline - performance.now());
    const releaseLocal = await this.#fileMutex.acquire("", remaining, undefined, timeoutError);
    try {
      await this.#ensureDir();
      const releaseFile = await this.#lockFile(this.#path, deadline, undefined, timeoutError);
      try {
        if (!this.#orphansRemoved) {
          this.#orphansRemoved = true;
          await this.#removeOrphanTempFiles();
        }
        const entries = await this.#read();
        const { result, changed } = change(entries);
        if (changed) await this.#write(entries);
        return result;
      } finally {
        await this.#unlockFile(releaseFile);
      }
    } finally {
      releaseLocal();
    }
  }

  /** The directory may have been removed since {@link #prepare}: locks and writes need it. */
  async #ensureDir(): Promise<void> {
    try {
      await this.#fs.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StoreError(
        `FileTokenStore: cannot create directory ${this.#dir}: ${codeOf(err) ?? "error"}`,
        { cause: err, path: this.#path },
      );
    }
  }

  /** Creates the directory and tightens modes, once per instance (again after a failure). */
  #prepare(): Promise<void> {
    this.#prepared ??= this.#doPrepare().catch((err: unknown) => {
      this.#prepared = undefined;
      throw new StoreError(
        `FileTokenStore: cannot prepare directory ${this.#dir}: ${codeOf(err) ?? "error"}`,
        { cause: err, path: this.#path },
      );
    });
    return this.#prepared;
  }

  async #doPrepare(): Promise<void> {
    const fs = this.#fs;
    await fs.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const dirStat = await fs.stat(this.#dir);
    if ((dirStat.mode & 0o077) !== 0) {
      const uid = process.getuid?.();
      // A shared directory (sticky bit, e.g. /tmp), the root, someone else's, or one that is
      // plainly not dedicated to tokens (the home or working directory): tightening it could
      // break other users or programs, so only warn. The file itself is still 0600.
      const shared =
        (dirStat.mode & 0o1000) !== 0 ||
        path.parse(this.#dir).root === this.#dir ||
        this.#dir === path.resolve(homedir()) ||
        this.#dir === process.cwd() ||
        (uid !== undefined && dirStat.uid !== uid);
      if (shared) {
        this.#logger.warn(
          `oauthmanager: ${this.#dir} is readable by other users and shared; keeping tokens there relies on the file's own 0600 mode`,
        );
      } else {
        await fs.chmod(this.#dir, 0o700);
      }
    }
    try {
      const fileStat = await fs.stat(this.#path);
      if ((fileStat.mode & 0o077) !== 0) await fs.chmod(this.#path, 0o600);
    } catch (err) {
      if (codeOf(err) !== "ENOENT") throw err;
    }
  }

  /**
   * Temp files of writers that died before their rename hold tokens: remove them. Called with
   * the file lock held, when no live writer can have a temp file open; the pid check guards
   * against a writer whose lock was taken over as stale.
   */
  async #removeOrphanTempFiles(): Promise<void> {
    const base = path.basename(this.#path);
    let names: string[];
    try {
      names = await this.#fs.readdir(this.#dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(`${base}.`) || !name.endsWith(".tmp")) continue;
      const match = /^\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(base.length));
      const pid = Number(match?.[1]);
      if (!match || pid === process.pid || isAlive(pid)) continue;
      await this.#fs.unlink(path.join(this.#dir, name)).catch(() => {});
    }
  }

  async #read(): Promise<Map<string, FileEntry>> {
    let raw: Buffer;
    try {
      raw = await this.#fs.readFile(this.#path);
    } catch (err) {
      if (codeOf(err) === "ENOENT") return new Map();
      throw new StoreError(`FileTokenStore: cannot read ${this.#path}: ${codeOf(err) ?? "error"}`, {
        cause: err,
        path: this.#path,
      });
    }
    return this.#decode(raw);
  }

  async #decode(raw: Buffer): Promise<Map<string, FileEntry>> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      // V8's message may quote the file's text, which holds tokens: keep only where it failed.
      throw await this.#corrupt(raw, `not valid JSON${jsonErrorWhere(err)}`);
    }
    if (isRecord(parsed) && "encrypted" in parsed) {
      const envelope = wireEncrypted.safeParse(parsed);
      if (!envelope.success) throw await this.#corrupt(raw, formatIssues(envelope.error.issues));
      if (!this.#key) {
        throw new StoreError(
          `FileTokenStore: ${this.#path} is encrypted but no encryption key was given; pass \`encryptionKey\` or set ${ENCRYPTION_KEY_ENV}`,
          { path: this.#path },
        );
      }
      const plain = decrypt(envelope.data.encrypted, this.#key);
      if (plain === undefined) {
        const kept = await this.#keepCopy(raw);
        throw new StoreError(
          `FileTokenStore: cannot decrypt ${this.#path}: the encryption key is wrong or the file was tampered with. The file is left as it is${kept}.`,
          { path: this.#path },
        );
      }
      try {
        parsed = JSON.parse(plain);
      } catch {
        throw await this.#corrupt(raw, "its decrypted content is not valid JSON");
      }
    } else if (this.#key && !this.#warnedPlain) {
      this.#warnedPlain = true;
      this.#logger.warn(
        `oauthmanager: ${this.#path} is not encrypted; it will be encrypted on the next save`,
      );
    }
    return this.#validate(parsed, raw);
  }

  async #validate(doc: unknown, raw: Buffer): Promise<Map<string, FileEntry>> {
    if (!isRecord(doc)) {
      throw await this.#corrupt(raw, `expected a JSON object at the top, got ${jsonType(doc)}`);
    }
    if (doc.version !== FORMAT_VERSION) {
      const newer = typeof doc.version === "number" && doc.version > FORMAT_VERSION;
      throw await this.#corrupt(
        raw,
        newer
          ? `version: format ${doc.version} was written by a newer oauthmanager; this one reads ${FORMAT_VERSION}`
          : `version: expected ${FORMAT_VERSION}, got ${jsonType(doc.version)}`,
      );
    }
    if (!isRecord(doc.tokens)) {
      throw await this.#corrupt(raw, `tokens: expected an object, got ${jsonType(doc.tokens)}`);
    }
    const entries = new Map<string, FileEntry>();
    const problems: string[] = [];
    for (const [key, value] of Object.entries(doc.tokens)) {
      const where = `tokens${pathSegment(key)}`;
      if (key === "") {
        problems.push(`${where}: expected a non-empty key`);
        continue;
      }
      const parsed = wireToken.safeParse(value);
      if (parsed.success) entries.set(key, fromWire(parsed.data));
      else problems.push(formatIssues(parsed.error.issues, where));
    }
    if (problems.length > 0) throw await this.#corrupt(raw, problems.join("; "));
    return entries;
  }

  /** Keeps a copy of the unreadable bytes and returns the error every call will now get. */
  async #corrupt(raw: Buffer, detail: string): Promise<StoreError> {
    const kept = await this.#keepCopy(raw);
    return new StoreError(
      `FileTokenStore: ${this.#path} is corrupt: ${detail}. It is not read as empty and will not be overwritten${kept}: fix or remove it.`,
      { path: this.#path },
    );
  }

  /**
   * Writes `raw` to `<file>.corrupt` (0600), never replacing a different earlier copy: that one
   * goes on as `.corrupt.1`, `.corrupt.2`… Returns a phrase naming the copy for the message.
   */
  async #keepCopy(raw: Buffer): Promise<string> {
    for (let i = 0; i < MAX_CORRUPT_COPIES; i++) {
      const copy = i === 0 ? `${this.#path}.corrupt` : `${this.#path}.corrupt.${i}`;
      try {
        const handle = await this.#fs.open(copy, "wx", 0o600);
        try {
          await handle.writeFile(raw);
        } finally {
          await handle.close();
        }
        this.#logger.warn(`oauthmanager: kept a copy of unreadable ${this.#path} at ${copy}`);
        return `; a copy is kept at ${copy}`;
      } catch (err) {
        if (codeOf(err) !== "EEXIST") {
          this.#logger.warn(
            `oauthmanager: could not copy unreadable ${this.#path} to ${copy}: ${codeOf(err) ?? "error"}`,
          );
          return "";
        }
        const existing = await this.#fs.readFile(copy).catch(() => undefined);
        if (existing?.equals(raw)) return `; a copy is kept at ${copy}`;
      }
    }
    return "";
  }

  async #write(entries: Map<string, FileEntry>): Promise<void> {
    const tokens: Record<string, WireToken> = {};
    for (const [key, entry] of entries) {
      Object.defineProperty(tokens, key, {
        value: toWire(entry),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    let text = `${JSON.stringify({ version: FORMAT_VERSION, tokens }, null, 2)}\n`;
    if (this.#key) {
      const encrypted = encrypt(text, this.#key);
      text = `${JSON.stringify({ version: FORMAT_VERSION, encrypted }, null, 2)}\n`;
    }
    await this.#writeAtomic(text);
  }

  /** Temp file (0600 from creation) → write → fsync → rename over the file → fsync the directory. */
  async #writeAtomic(text: string): Promise<void> {
    const fs = this.#fs;
    const tmp = `${this.#path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    let handle: nodeFs.FileHandle | undefined;
    try {
      handle = await fs.open(tmp, "wx", 0o600);
      // A umask cannot widen 0600, but it can narrow it; the file must stay usable by its owner.
      await handle.chmod(0o600);
      await handle.writeFile(text, "utf8");
      await handle.sync();
      await handle.close();
      handle = undefined;
      await fs.rename(tmp, this.#path);
    } catch (err) {
      await handle?.close().catch(() => {});
      await fs.unlink(tmp).catch(() => {});
      throw new StoreError(
        `FileTokenStore: cannot write ${this.#path}: ${codeOf(err) ?? "error"}; the file is unchanged`,
        { cause: err, path: this.#path },
      );
    }
    await this.#syncDir();
  }

  /** Makes the rename itself durable. Some platforms cannot fsync a directory: that is fine. */
  async #syncDir(): Promise<void> {
    let dir: nodeFs.FileHandle | undefined;
    try {
      dir = await this.#fs.open(this.#dir, "r");
      await dir.sync();
    } catch {
      // The data is already renamed into place; only durability across power loss is weaker.
    } finally {
      await dir?.close().catch(() => {});
    }
  }

  #keyLockTarget(key: string): string {
    const hash = createHash("sha256").update(key).digest("hex").slice(0, 16);
    return `${this.#path}.${hash}`;
  }

  /**
   * Takes the proper-lockfile lock `<target>.lock`, retrying with jittered exponential backoff
   * until `deadline`. A lock not refreshed for `lockStaleMs` is taken over.
   */
  async #lockFile(
    target: string,
    deadline: number,
    signal: AbortSignal | undefined,
    timeoutError: () => Error,
  ): Promise<() => Promise<void>> {
    const started = performance.now();
    let warned = false;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      let release: (() => Promise<void>) | undefined;
      try {
        release = await lockfile.lock(target, {
          realpath: false,
          stale: this.#staleMs,
          retries: 0,
          onCompromised: (err) => {
            // proper-lockfile's default throws from a timer, which would crash the process.
            this.#logger.warn(
              `oauthmanager: lost the lock ${target}.lock (${codeOf(err) ?? "error"}); another process may hold it now`,
            );
          },
        });
      } catch (err) {
        if (codeOf(err) !== "ELOCKED") {
          throw new StoreError(
            `FileTokenStore: cannot lock ${target}.lock: ${codeOf(err) ?? "error"}`,
            { cause: err, path: this.#path },
          );
        }
      }
      if (release) {
        if (signal?.aborted) {
          await this.#unlockFile(release);
          throw signal.reason;
        }
        return release;
      }
      const now = performance.now();
      if (!warned && now - started > LOCK_SLOW_WARN_MS) {
        warned = true;
        this.#logger.warn(`oauthmanager: waiting over 5 s for the lock ${target}.lock`);
      }
      const remaining = deadline - now;
      if (remaining <= 0) throw timeoutError();
      const backoff = Math.min(LOCK_RETRY_MIN_MS * 2 ** attempt, LOCK_RETRY_MAX_MS);
      await sleep(Math.min(remaining, backoff * (0.5 + Math.random() / 2)), signal);
    }
  }

  async #unlockFile(release: () => Promise<void>): Promise<void> {
    try {
      await release();
    } catch (err) {
      this.#logger.warn(
        `oauthmanager: could not release a lock beside ${this.#path}: ${codeOf(err) ?? "error"}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------

function checkMs(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > MAX_TIMER_MS) {
    throw new RangeError(
      `Expected \`${name}\` to be a number of milliseconds from ${min} to ${MAX_TIMER_MS}, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * A wait between lock attempts. Deliberately not unref'd: the caller is awaiting it like any
 * pending I/O, and an unref'd wait would let a process exit silently in the middle of a save.
 * It lasts at most `LOCK_RETRY_MAX_MS` and is cleared on abort.
 */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return codeOf(err) === "EPERM";
  }
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}

function jsonErrorWhere(err: unknown): string {
  const message = err instanceof Error ? err.message : "";
  if (message.includes("end of JSON input")) return " (it ends too early: truncated?)";
  const position = /at position (\d+)/.exec(message)?.[1];
  return position ? ` (at byte ${position})` : "";
}

function pathSegment(segment: PropertyKey): string {
  if (typeof segment === "number") return `[${segment}]`;
  const s = String(segment);
  return /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
}

function formatIssues(issues: z.ZodError["issues"], prefix = ""): string {
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).map((issue) => {
    let where = prefix;
    for (const segment of issue.path) where += pathSegment(segment);
    if (where.startsWith(".")) where = where.slice(1);
    return `${where || "(top)"}: ${issue.message}`;
  });
  const more = issues.length - shown.length;
  return more > 0 ? `${shown.join("; ")}; and ${more} more` : shown.join("; ");
}

function fromWire(w: WireToken): FileEntry {
  const token: StoredToken = { accessToken: w.access_token };
  if (w.refresh_token !== undefined) token.refreshToken = w.refresh_token;
  if (w.expires_at !== undefined) token.expiresAt = new Date(w.expires_at);
  if (w.last_refresh !== undefined) token.lastRefresh = new Date(w.last_refresh);
  if (w.refresh_count !== undefined) token.refreshCount = w.refresh_count;
  if (w.scopes !== undefined) token.scopes = w.scopes;
  if (w.rotation !== undefined) token.rotation = rotationFromWire(w.rotation);
  if (w.version !== undefined) token.version = w.version;
  return { token, updatedAt: w.updated_at };
}

function rotationFromWire(w: WireRotation): StoredRotation {
  const r: StoredRotation = {
    createdAt: new Date(w.created_at),
    markedForRotation: w.marked_for_rotation,
  };
  if (w.rotation_started_at !== undefined) r.rotationStartedAt = new Date(w.rotation_started_at);
  if (w.replacement_id !== undefined) r.replacementId = w.replacement_id;
  if (w.decommission_at !== undefined) r.decommissionAt = new Date(w.decommission_at);
  return r;
}

function toWire({ token, updatedAt }: FileEntry): WireToken {
  const w: WireToken = { access_token: token.accessToken };
  if (token.refreshToken !== undefined) w.refresh_token = token.refreshToken;
  if (token.expiresAt !== undefined) w.expires_at = token.expiresAt.toISOString();
  if (token.lastRefresh !== undefined) w.last_refresh = token.lastRefresh.toISOString();
  if (token.refreshCount !== undefined) w.refresh_count = token.refreshCount;
  if (token.scopes !== undefined) w.scopes = token.scopes;
  if (token.rotation !== undefined) {
    const r = token.rotation;
    const wr: WireRotation = {
      created_at: r.createdAt.toISOString(),
      marked_for_rotation: r.markedForRotation,
    };
    if (r.rotationStartedAt !== undefined)
      wr.rotation_started_at = r.rotationStartedAt.toISOString();
    if (r.replacementId !== undefined) wr.replacement_id = r.replacementId;
    if (r.decommissionAt !== undefined) wr.decommission_at = r.decommissionAt.toISOString();
    w.rotation = wr;
  }
  if (token.version !== undefined) w.version = token.version;
  if (updatedAt !== undefined) w.updated_at = updatedAt;
  return w;
}
