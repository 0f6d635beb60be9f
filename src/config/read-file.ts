/**
 * Reading a configuration file with a size limit, so that a wrong path (a log, a disk image,
 * `/dev/zero`) is refused at once instead of after gigabytes of parsing.
 * @module
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { ConfigError } from "../errors.js";

/** The largest configuration accepted, in UTF-8 bytes: 1 MiB, far above any real one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** The message for a configuration over {@link MAX_CONFIG_BYTES}; `bytes` when known. */
export function tooLargeMessage(bytes?: number): string {
  return `the configuration is larger than 1 MiB${bytes === undefined ? "" : ` (${bytes} bytes)`}`;
}

/** Puts the file name in front of the message of a ConfigError about the file's content. */
export function inFile(path: string, error: ConfigError): ConfigError {
  error.message = `invalid configuration file ${path}:\n${error.message}`;
  return error;
}

const IS_DIRECTORY = "it is a directory";

// Node's error codes in words; an unlisted code is shown as it is.
const READ_FAILURES: Record<string, string> = {
  ENOENT: "no such file",
  EISDIR: IS_DIRECTORY,
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a part of the path is not a directory",
  ELOOP: "too many symbolic links",
};

function cannotRead(path: string, why: string): ConfigError {
  return new ConfigError(`cannot read configuration file ${path}: ${why}`);
}

/**
 * The text of a configuration file, read only when it is at most {@link MAX_CONFIG_BYTES}.
 * @throws {ConfigError} when the file cannot be read, is a directory or is too large.
 */
export async function readConfigFile(path: string): Promise<string> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "r");
    // The size comes from the open file, so a file swapped in after the check is not read.
    const stats = await handle.stat();
    if (stats.isDirectory()) throw cannotRead(path, IS_DIRECTORY);
    if (stats.size > MAX_CONFIG_BYTES) {
      throw inFile(path, new ConfigError(tooLargeMessage(stats.size)));
    }
    // A device or pipe reports size 0 whatever it holds: read one byte past the limit to know.
    const bytes = await readAtMost(handle, MAX_CONFIG_BYTES + 1);
    if (bytes.length > MAX_CONFIG_BYTES) throw inFile(path, new ConfigError(tooLargeMessage()));
    return bytes.toString("utf8");
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as { code?: unknown }).code;
    const why = typeof code === "string" ? (READ_FAILURES[code] ?? code) : "read failed";
    throw cannotRead(path, why);
  } finally {
    // Closing a file only read from loses nothing if it fails.
    await handle?.close().catch(() => {});
  }
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
