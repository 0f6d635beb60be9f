/**
 * Reading a configuration file with a size limit, so that a wrong path (a log, a disk image,
 * `/dev/zero`) is refused at once instead of after gigabytes of parsing.
 * @module
 */
import { ConfigError } from "../errors.js";
import { readSmallFile } from "../read-small-file.js";

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

function cannotRead(path: string, why: string): ConfigError {
  return new ConfigError(`cannot read configuration file ${path}: ${why}`);
}

/**
 * The text of a configuration file, read only when it is at most {@link MAX_CONFIG_BYTES}.
 * @throws {ConfigError} when the file cannot be read, is a directory or is too large.
 */
export function readConfigFile(path: string): Promise<string> {
  return readSmallFile(path, MAX_CONFIG_BYTES, (problem) =>
    problem.tooLarge
      ? inFile(path, new ConfigError(tooLargeMessage(problem.bytes)))
      : cannotRead(path, problem.why),
  );
}
