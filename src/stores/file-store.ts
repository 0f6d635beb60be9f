/**
 * `FileTokenStore`: every token in one JSON file, written atomically, locked across processes,
 * optionally encrypted. The file's format is documented in `file-format.ts`; the lock in
 * `file-lock.ts`.
 *
 * Beside the file live `<file>.lock` (held during each read-modify-write) and
 * `<file>.<16 hex>.lock` (one per key, held by {@link FileTokenStore.withLock}); both are
 * directories holding a `holder.json` that names the holding process, removed on release, and
 * `<lock>.takeover` exists for the moment a waiter removes a lock whose holder is gone. A file that
 * cannot be read is copied to `<file>.corrupt`.
 * @module
 */
import { createHash, type KeyObject, randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import * as nodeFs from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { type Clock, MAX_TIMER_DELAY_MS, raceTimeout, systemClock } from "../clock.js";
import { describe, describeSetting } from "../describe.js";
import { ClosedError, StoreError } from "../errors.js";
import type { Logger } from "../types.js";
import { ENCRYPTION_KEY_ENV, parseEncryptionKey } from "./crypto.js";
import { errnoCode } from "./errno.js";
import { decodeFile, encodeFile, type FileEntry } from "./file-format.js";
import { acquireFileLock, isProcessAlive, MIN_STALE_MS, type ReleaseLock } from "./file-lock.js";
import {
  checkFn,
  checkKey,
  checkPrefix,
  checkToken,
  cloneToken,
  KeyedMutex,
  lockTimeoutError,
  normalizeLockOptions,
} from "./memory-store.js";
import type { LockOptions, StoredToken, TokenStore } from "./types.js";

/** The file system calls the store makes; replaceable so tests can inject faults. @internal */
export type FileStoreFs = Pick<
  typeof nodeFs,
  "open" | "readFile" | "rename" | "unlink" | "mkdir" | "chmod" | "stat" | "lstat" | "readdir"
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
   * A lock held by a process of this host that is no longer running is taken over at once. A
   * lock whose holder cannot be checked (another host sharing the file, or a holder killed before
   * it named itself in the lock) is taken over once not refreshed for this long; until then, calls
   * that need it wait, and fail if `timeoutMs` is shorter. The holder refreshes it every
   * `lockStaleMs / 2`. At least 2_000. @default 10_000
   */
  lockStaleMs?: number | undefined;
  /** Where warnings go (a lock lost, a mode it could not fix). @default console */
  logger?: Logger | undefined;
  /** The clock behind `updated_at`. @default Date.now */
  now?: Clock | undefined;
  /**
   * Replaces the file system calls of reads and writes; for fault-injection tests only.
   * @internal @default node:fs/promises
   */
  fs?: FileStoreFs | undefined;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_STALE_MS = 10_000;
const MAX_CORRUPT_COPIES = 10;
/** Opens fail on a symbolic link instead of following it (not available on Windows). */
const NO_FOLLOW = fsConstants.O_NOFOLLOW ?? 0;

/**
 * A token store in one JSON file (format in `file-format.ts`), safe to share between
 * processes on one host:
 * - every write goes to a 0600 temp file in the same directory, is fsynced and renamed over the
 *   file, then the directory is fsynced, so a crash leaves the old file or the new one, never a mix;
 * - the directory is kept at 0700 and the file at 0600, including ones that existed before;
 * - each save and delete re-reads the file under a cross-process lock, so no update is lost;
 * - `withLock(key)` is a per-key lock shared by every process, and `load` always reads the disk,
 *   so a process that takes the lock sees the token another one just saved;
 * - a file that is not valid JSON, fails validation or cannot be decrypted is never read as
 *   empty and never overwritten: every call rejects with a `StoreError` naming it, and a copy is
 *   kept as `<file>.corrupt`. A missing file is an empty store.
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
   * @throws {LockTimeoutError} when another holder kept the lock for `timeoutMs` (@default 30_000).
   * @throws {StoreError} when the lock cannot be taken at all (the lock directory cannot be made).
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
      await releaseFile();
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
        if (changed) await this.#writeAtomic(encodeFile(entries, this.#key));
        return result;
      } finally {
        await releaseFile();
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
        `FileTokenStore: cannot create directory ${this.#dir}: ${errnoCode(err) ?? "error"}`,
        { cause: err, path: this.#path },
      );
    }
  }

  /** Creates the directory and tightens modes, once per instance (again after a failure). */
  #prepare(): Promise<void> {
    this.#prepared ??= this.#doPrepare().catch((err: unknown) => {
      this.#prepared = undefined;
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        `FileTokenStore: cannot prepare directory ${this.#dir}: ${errnoCode(err) ?? "error"}`,
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
    let fileStat: Awaited<ReturnType<FileStoreFs["lstat"]>>;
    try {
      fileStat = await fs.lstat(this.#path);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return;
      throw err;
    }
    if (fileStat.isSymbolicLink()) throw this.#symlinkError();
    if ((fileStat.mode & 0o077) !== 0) await this.#tightenFileMode();
  }

  /** chmod through a handle opened without following links: never a file elsewhere. */
  async #tightenFileMode(): Promise<void> {
    let handle: nodeFs.FileHandle;
    try {
      handle = await this.#fs.open(this.#path, fsConstants.O_RDONLY | NO_FOLLOW);
    } catch (err) {
      // Replaced by a link since the lstat: refuse it like any other link.
      if (await this.#isSymlink(err)) throw this.#symlinkError();
      throw err;
    }
    try {
      await handle.chmod(0o600);
    } finally {
      await handle.close();
    }
  }

  /**
   * Whether `err`, from opening the file without following links, came from the file being one.
   * ELOOP alone could also be a loop among the directories above it.
   */
  async #isSymlink(err: unknown): Promise<boolean> {
    if (errnoCode(err) !== "ELOOP") return false;
    return (await this.#fs.lstat(this.#path).catch(() => undefined))?.isSymbolicLink() === true;
  }

  /**
   * Writes replace the file by renaming a new one over it, and modes are tightened on it: through
   * a link, both would act on some other file (or replace the link), so a link is refused.
   */
  #symlinkError(): StoreError {
    return new StoreError(
      `FileTokenStore: ${this.#path} is a symbolic link, which the store refuses: it replaces the file on every write and keeps it at mode 0600, which through a link would act on another file. Set \`path\` to the file the link points to, or replace the link with that file.`,
      { path: this.#path },
    );
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
      if (!match || pid === process.pid || isProcessAlive(pid)) continue;
      await this.#fs.unlink(path.join(this.#dir, name)).catch(() => {});
    }
  }

  async #read(): Promise<Map<string, FileEntry>> {
    let raw: Buffer;
    try {
      raw = await this.#fs.readFile(this.#path, { flag: fsConstants.O_RDONLY | NO_FOLLOW });
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return new Map();
      if (await this.#isSymlink(err)) throw this.#symlinkError();
      throw new StoreError(
        `FileTokenStore: cannot read ${this.#path}: ${errnoCode(err) ?? "error"}`,
        { cause: err, path: this.#path },
      );
    }
    return this.#decode(raw);
  }

  /** The entries in `raw`, or the `StoreError` that every call gets while the file stays so. */
  async #decode(raw: Buffer): Promise<Map<string, FileEntry>> {
    const result = decodeFile(raw, this.#key);
    switch (result.kind) {
      case "ok":
        if (this.#key && !result.encrypted && !this.#warnedPlain) {
          this.#warnedPlain = true;
          this.#logger.warn(
            `oauthmanager: ${this.#path} is not encrypted; it will be encrypted on the next save`,
          );
        }
        return result.entries;
      case "corrupt":
        throw await this.#corrupt(raw, result.detail);
      case "no-key":
        throw new StoreError(
          `FileTokenStore: ${this.#path} is encrypted but no encryption key was given; pass \`encryptionKey\` or set ${ENCRYPTION_KEY_ENV}`,
          { path: this.#path },
        );
      case "undecryptable": {
        const kept = await this.#keepCopy(raw);
        throw new StoreError(
          `FileTokenStore: cannot decrypt ${this.#path}: the encryption key is wrong or the file was tampered with. The file is left as it is${kept}.`,
          { path: this.#path },
        );
      }
    }
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
        if (errnoCode(err) !== "EEXIST") {
          this.#logger.warn(
            `oauthmanager: could not copy unreadable ${this.#path} to ${copy}: ${errnoCode(err) ?? "error"}`,
          );
          return "";
        }
        const existing = await this.#fs.readFile(copy).catch(() => undefined);
        if (existing?.equals(raw)) return `; a copy is kept at ${copy}`;
      }
    }
    return "";
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
        `FileTokenStore: cannot write ${this.#path}: ${errnoCode(err) ?? "error"}; the file is unchanged`,
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

  #lockFile(
    target: string,
    deadline: number,
    signal: AbortSignal | undefined,
    timeoutError: () => Error,
  ): Promise<ReleaseLock> {
    return acquireFileLock(target, {
      staleMs: this.#staleMs,
      deadline,
      signal,
      timeoutError,
      logger: this.#logger,
      guarded: this.#path,
    });
  }
}

// ---------------------------------------------------------------------------------------------

function checkMs(name: string, value: unknown, min: number): number {
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value < min ||
    value > MAX_TIMER_DELAY_MS
  ) {
    throw new RangeError(
      `Expected \`${name}\` to be a number of milliseconds from ${min} to ${MAX_TIMER_DELAY_MS}, got ${describeSetting(value)}`,
    );
  }
  return value;
}
