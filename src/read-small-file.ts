/**
 * Reading a file that should be small (a configuration, a CLI's login) with a hard size limit, so
 * a wrong path — a log, a disk image, `/dev/zero` — is refused at once instead of read whole.
 * @module
 */
import { type FileHandle, open } from "node:fs/promises";

/** Why a file was not read, for the caller to put in its own error. */
export interface ReadProblem {
  /** Node's error code, when the file system gave one (`ENOENT` …). */
  code: string | undefined;
  /** The file is over the limit; `bytes` is its size when known. */
  tooLarge: boolean;
  bytes?: number;
  /** The problem in words: a code as a phrase, "it is a directory", or the size. */
  why: string;
}

// Node's error codes in words; an unlisted code is shown as it is.
const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EISDIR: "it is a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a part of the path is not a directory",
  ELOOP: "too many symbolic links",
};

/** Thrown inside to carry a problem to the catch that turns it into the caller's error. */
class Problem {
  constructor(readonly problem: ReadProblem) {}
}

/**
 * The UTF-8 text of `path`, read only when it is at most `limit` bytes (symbolic links are
 * followed). Every failure becomes `fail(problem)`, thrown.
 */
export async function readSmallFile(
  path: string,
  limit: number,
  fail: (problem: ReadProblem) => Error,
): Promise<string> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "r");
    // The size comes from the open file, so a file swapped in after the check is not read.
    const stats = await handle.stat();
    if (stats.isDirectory()) {
      throw new Problem({ code: "EISDIR", tooLarge: false, why: READ_FAILURES.EISDIR as string });
    }
    if (stats.size > limit) throw new Problem(tooLarge(limit, stats.size));
    // A device or pipe reports size 0 whatever it holds: read one byte past the limit to know.
    const bytes = await readAtMost(handle, limit + 1);
    if (bytes.length > limit) throw new Problem(tooLarge(limit, undefined));
    return bytes.toString("utf8");
  } catch (err) {
    if (err instanceof Problem) throw fail(err.problem);
    const code = (err as { code?: unknown } | null)?.code;
    const known = typeof code === "string" ? code : undefined;
    const why = known === undefined ? "read failed" : (READ_FAILURES[known] ?? known);
    throw fail({ code: known, tooLarge: false, why });
  } finally {
    // Closing a file only read from loses nothing if it fails.
    await handle?.close().catch(() => {});
  }
}

function tooLarge(limit: number, bytes: number | undefined): ReadProblem {
  const mib = limit / (1024 * 1024);
  const size = bytes === undefined ? "" : ` (${bytes} bytes)`;
  const problem: ReadProblem = {
    code: undefined,
    tooLarge: true,
    why: `it is larger than ${mib} MiB${size}`,
  };
  if (bytes !== undefined) problem.bytes = bytes;
  return problem;
}

async function readAtMost(handle: FileHandle, limit: number): Promise<Buffer> {
  const buffer = Buffer.alloc(limit);
  let filled = 0;
  while (filled < limit) {
    const { bytesRead } = await handle.read(buffer, filled, limit - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}
