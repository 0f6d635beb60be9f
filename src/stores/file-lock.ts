/**
 * The cross-process lock of `FileTokenStore`: a directory `<target>.lock` beside the file, made
 * by proper-lockfile (an atomic `mkdir`) and kept fresh by it (its mtime is touched every
 * `staleMs / 2`), taken with jittered retries until a deadline.
 *
 * Each holder writes `holder.json` into the directory: its pid, hostname and (on Linux) pid
 * namespace. A waiter takes a lock over when
 * - its holder is a process on this host that is no longer running: at once, so a process
 *   restarted after a crash (SIGKILL, OOM kill, power cut of a container) saves without waiting;
 * - or its mtime is older than `staleMs`: the only sign available for a holder on another host,
 *   or one that died before writing `holder.json`.
 *
 * Takeovers happen under a second, short-lived directory `<target>.lock.takeover`, and the lock
 * is checked again under it, so two waiters that both saw the dead holder cannot both remove a
 * lock: the second would otherwise delete the one the first had just taken.
 * @module
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import lockfile from "proper-lockfile";
import { abortableDelay } from "../abort.js";
import { systemClock } from "../clock.js";
import { parseRecord } from "../describe.js";
import { StoreError } from "../errors.js";
import type { Logger } from "../types.js";
import { errnoCode } from "./errno.js";

/** Lets the lock go; never rejects (a failure is logged). */
export type ReleaseLock = () => Promise<void>;

/** How {@link acquireFileLock} waits. */
export interface AcquireOptions {
  /** A lock whose mtime is older than this is taken over. At least {@link MIN_STALE_MS}. */
  staleMs: number;
  /** `performance.now()` after which waiting fails with `timeoutError()`. */
  deadline: number;
  /** Stops waiting with `signal.reason`. */
  signal?: AbortSignal | undefined;
  timeoutError: () => Error;
  /** Where a slow wait, a takeover, a lost lock or a failed release is reported. */
  logger: Logger;
  /** The file the lock guards: named in errors and in `StoreError.path`. */
  guarded: string;
}

/** Who holds a lock, as written in its `holder.json`. @internal */
export interface LockHolder {
  pid: number;
  hostname: string;
  /**
   * Containers on one host can share a hostname without sharing pids: a pid only says whether a
   * process runs when both sides see the same pid namespace. Absent where there is none to read.
   */
  pidNamespace?: string;
  /** Random per loaded copy of this module: tells this process's own holder file from others'. */
  instance: string;
}

/** proper-lockfile will not go lower: its mtime refresh runs at most every second. */
export const MIN_STALE_MS = 2_000;
/** The file inside a lock directory that names its holder. @internal */
export const HOLDER_FILE = "holder.json";
const RETRY_MIN_MS = 20;
const RETRY_MAX_MS = 250;
/** Waiting longer than this for a lock is worth a warning: some holder is slow or stuck. */
const SLOW_WARN_MS = 5_000;
/**
 * proper-lockfile's own stale takeover is turned off: it removes a lock without re-checking it
 * under a guard (see the module documentation), so staleness is decided here instead.
 */
const NEVER_STALE = Number.MAX_SAFE_INTEGER;

let self: LockHolder | undefined;

/** This process, as it writes itself into the locks it takes. @internal */
export function thisHolder(): LockHolder {
  if (!self) {
    self = { pid: process.pid, hostname: hostname(), instance: randomBytes(8).toString("hex") };
    try {
      self.pidNamespace = fs.readlinkSync("/proc/self/ns/pid");
    } catch {
      // Not Linux, or /proc is not mounted: the hostname alone names the host.
    }
  }
  return self;
}

/**
 * Takes the lock `<target>.lock`, retrying with jittered exponential backoff until
 * `options.deadline`, and taking over a lock whose holder is gone (see the module documentation).
 * @throws the error from `options.timeoutError` at the deadline.
 * @throws `signal.reason` when `options.signal` aborts first.
 * @throws {StoreError} when the lock directory cannot be made or removed for another reason
 * (EACCES…).
 */
export async function acquireFileLock(
  target: string,
  options: AcquireOptions,
): Promise<ReleaseLock> {
  const { signal, logger } = options;
  const started = performance.now();
  let warned = false;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    const release = await tryLock(target, options);
    if (release) {
      if (signal?.aborted) {
        await release();
        throw signal.reason;
      }
      return release;
    }
    const retryNow = await takeOverAbandoned(`${target}.lock`, options);
    const now = performance.now();
    if (!warned && now - started > SLOW_WARN_MS) {
      warned = true;
      logger.warn(`oauthmanager: waiting over 5 s for the lock ${target}.lock`);
    }
    const remaining = options.deadline - now;
    if (remaining <= 0) throw options.timeoutError();
    if (retryNow) continue;
    const backoff = Math.min(RETRY_MIN_MS * 2 ** attempt, RETRY_MAX_MS);
    await abortableDelay(Math.min(remaining, backoff * (0.5 + Math.random() / 2)), signal);
  }
}

/** One attempt: the release function, or undefined while another holder has the lock. */
async function tryLock(target: string, options: AcquireOptions): Promise<ReleaseLock | undefined> {
  const { logger } = options;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      realpath: false,
      stale: NEVER_STALE,
      update: options.staleMs / 2,
      retries: 0,
      fs: holderRecordingFs,
      onCompromised: (err) => {
        // proper-lockfile's default throws from a timer, which would crash the process.
        logger.warn(
          `oauthmanager: lost the lock ${target}.lock (${errnoCode(err) ?? "error"}); another process may hold it now`,
        );
      },
    });
  } catch (err) {
    if (errnoCode(err) === "ELOCKED") return undefined;
    throw new StoreError(
      `FileTokenStore: cannot lock ${target}.lock: ${errnoCode(err) ?? "error"}`,
      { cause: err, path: options.guarded },
    );
  }
  return async () => {
    try {
      await release();
    } catch (err) {
      logger.warn(
        `oauthmanager: could not release a lock beside ${options.guarded}: ${errnoCode(err) ?? "error"}`,
      );
    }
  };
}

/**
 * What proper-lockfile sees as `fs`: the real one, except that a lock directory gets its
 * `holder.json` as soon as it is made, and loses it just before it is removed. Going through
 * proper-lockfile's own calls keeps the window without a holder file as short as it can be, and
 * covers its clean-up on exit (`rmdirSync`). A directory holding someone else's holder file is
 * not removed (the `rmdir` fails): this process's lock was taken over, and the new one stays.
 */
const holderRecordingFs = {
  ...fs,
  mkdir(dir: string, callback: (err: NodeJS.ErrnoException | null) => void): void {
    fs.mkdir(dir, (err) => {
      if (err) return callback(err);
      const record = JSON.stringify(thisHolder());
      // A holder file that cannot be written only costs the early takeover: mtime still works.
      fs.writeFile(path.join(dir, HOLDER_FILE), record, { flag: "wx" }, () => callback(null));
    });
  },
  rmdir(dir: string, callback: (err: NodeJS.ErrnoException | null) => void): void {
    const file = path.join(dir, HOLDER_FILE);
    fs.readFile(file, "utf8", (readErr, text) => {
      if (readErr || !isOwnHolder(text)) return fs.rmdir(dir, callback);
      fs.unlink(file, () => fs.rmdir(dir, callback));
    });
  },
  rmdirSync(dir: string): void {
    const file = path.join(dir, HOLDER_FILE);
    try {
      if (isOwnHolder(fs.readFileSync(file, "utf8"))) fs.unlinkSync(file);
    } catch {
      // No holder file: the directory is empty.
    }
    fs.rmdirSync(dir);
  },
};

function isOwnHolder(text: string): boolean {
  const holder = parseHolder(text);
  return holder?.pid === process.pid && holder.instance === thisHolder().instance;
}

/** A `holder.json`, or undefined when it is not one (being written, or not ours). @internal */
export function parseHolder(text: string): LockHolder | undefined {
  const v = parseRecord(text);
  if (
    !v ||
    !Number.isSafeInteger(v.pid) ||
    (v.pid as number) <= 0 ||
    typeof v.hostname !== "string" ||
    typeof v.instance !== "string" ||
    (v.pidNamespace !== undefined && typeof v.pidNamespace !== "string")
  ) {
    return undefined;
  }
  const holder: LockHolder = { pid: v.pid as number, hostname: v.hostname, instance: v.instance };
  if (typeof v.pidNamespace === "string") holder.pidNamespace = v.pidNamespace;
  return holder;
}

/** Why a lock can be taken over, or `held` while it cannot; `gone` once it is not there. */
type LockState = { kind: "held" } | { kind: "gone" } | { kind: "abandoned"; why: string };

async function lockState(lockDir: string, staleMs: number): Promise<LockState> {
  let stat: fs.Stats;
  try {
    stat = await fsp.stat(lockDir);
  } catch (err) {
    return errnoCode(err) === "ENOENT" ? { kind: "gone" } : { kind: "held" };
  }
  // The wall clock, not an injected one: it is compared with a file system timestamp.
  if (stat.mtimeMs < systemClock() - staleMs) {
    return { kind: "abandoned", why: `it was not refreshed for over ${staleMs} ms` };
  }
  const text = await fsp.readFile(path.join(lockDir, HOLDER_FILE), "utf8").catch(() => "");
  const holder = parseHolder(text);
  if (holder && isGoneFromThisHost(holder)) {
    return { kind: "abandoned", why: `its holder, process ${holder.pid}, is no longer running` };
  }
  return { kind: "held" };
}

/**
 * Whether `holder` is a process this one can see, and it is not running. This process's own pid
 * always counts as running: another thread or module copy of it may hold the lock.
 */
function isGoneFromThisHost(holder: LockHolder): boolean {
  const me = thisHolder();
  return (
    holder.hostname === me.hostname &&
    holder.pidNamespace === me.pidNamespace &&
    holder.pid !== process.pid &&
    !isProcessAlive(holder.pid)
  );
}

/**
 * Removes `lockDir` when it is abandoned. Resolves true when the next attempt should follow at
 * once (the lock was removed or is already gone), false to wait as usual.
 */
async function takeOverAbandoned(lockDir: string, options: AcquireOptions): Promise<boolean> {
  const seen = await lockState(lockDir, options.staleMs);
  if (seen.kind !== "abandoned") return seen.kind === "gone";
  const guard = `${lockDir}.takeover`;
  try {
    await fsp.mkdir(guard);
  } catch (err) {
    // Another waiter is taking over; a guard left by a process killed inside it expires.
    if (errnoCode(err) === "EEXIST") await removeIfOlder(guard, options.staleMs);
    return false;
  }
  try {
    // Checked again under the guard: another waiter may have removed it and locked anew.
    const state = await lockState(lockDir, options.staleMs);
    if (state.kind !== "abandoned") return state.kind === "gone";
    try {
      await fsp.rm(lockDir, { recursive: true, force: true });
    } catch (err) {
      throw new StoreError(
        `FileTokenStore: cannot remove the abandoned lock ${lockDir}: ${errnoCode(err) ?? "error"}`,
        { cause: err, path: options.guarded },
      );
    }
    options.logger.warn(`oauthmanager: took over the lock ${lockDir}: ${state.why}`);
    return true;
  } finally {
    await fsp.rmdir(guard).catch(() => {});
  }
}

async function removeIfOlder(dir: string, ageMs: number): Promise<void> {
  try {
    const stat = await fsp.stat(dir);
    if (stat.mtimeMs < systemClock() - ageMs) await fsp.rmdir(dir);
  } catch {
    // Gone already, or removed by another waiter.
  }
}

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === "EPERM";
  }
}
