/**
 * The cross-process lock of `FileTokenStore`: a proper-lockfile directory `<target>.lock` beside
 * the file, taken with jittered retries until a deadline. A lock whose holder stopped refreshing
 * it for `staleMs` is taken over.
 * @module
 */
import lockfile from "proper-lockfile";
import { StoreError } from "../errors.js";
import type { Logger } from "../types.js";
import { errnoCode } from "./errno.js";

/** Lets the lock go; never rejects (a failure is logged). */
export type ReleaseLock = () => Promise<void>;

/** How {@link acquireFileLock} waits. */
export interface AcquireOptions {
  /** A lock not refreshed for this long is taken over. At least {@link MIN_STALE_MS}. */
  staleMs: number;
  /** `performance.now()` after which waiting fails with `timeoutError()`. */
  deadline: number;
  /** Stops waiting with `signal.reason`. */
  signal?: AbortSignal | undefined;
  timeoutError: () => Error;
  /** Where a slow wait, a lost lock or a failed release is reported. */
  logger: Logger;
  /** The file the lock guards: named in errors and in `StoreError.path`. */
  guarded: string;
}

/** proper-lockfile will not go lower: its mtime refresh runs at most every second. */
export const MIN_STALE_MS = 2_000;
const RETRY_MIN_MS = 20;
const RETRY_MAX_MS = 250;
/** Waiting longer than this for a lock is worth a warning: some holder is slow or stuck. */
const SLOW_WARN_MS = 5_000;

/**
 * Takes the lock `<target>.lock`, retrying with jittered exponential backoff until
 * `options.deadline`.
 * @throws the error from `options.timeoutError` at the deadline.
 * @throws `signal.reason` when `options.signal` aborts first.
 * @throws {StoreError} when the lock directory cannot be made for another reason (EACCES…).
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
    const now = performance.now();
    if (!warned && now - started > SLOW_WARN_MS) {
      warned = true;
      logger.warn(`oauthmanager: waiting over 5 s for the lock ${target}.lock`);
    }
    const remaining = options.deadline - now;
    if (remaining <= 0) throw options.timeoutError();
    const backoff = Math.min(RETRY_MIN_MS * 2 ** attempt, RETRY_MAX_MS);
    await sleep(Math.min(remaining, backoff * (0.5 + Math.random() / 2)), signal);
  }
}

/** One attempt: the release function, or undefined while another holder has the lock. */
async function tryLock(target: string, options: AcquireOptions): Promise<ReleaseLock | undefined> {
  const { logger } = options;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      realpath: false,
      stale: options.staleMs,
      retries: 0,
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

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === "EPERM";
  }
}

/**
 * A wait between lock attempts. Deliberately not unref'd: the caller is awaiting it like any
 * pending I/O, and an unref'd wait would let a process exit silently in the middle of a save.
 * It lasts at most `RETRY_MAX_MS` and is cleared on abort.
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
