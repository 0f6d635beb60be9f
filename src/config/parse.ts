/**
 * `parseConfig` and `loadConfig`: YAML text and environment in, a validated configuration out.
 * @module
 */
import { ConfigError } from "../errors.js";
import { checkProviders } from "./cross-checks.js";
import { type Env, type RawIssue, resolveValues } from "./env.js";
import { describe, errorMap } from "./fields.js";
import { formatPath } from "./path.js";
import { inFile, MAX_CONFIG_BYTES, readConfigFile, tooLargeMessage } from "./read-file.js";
import { configSchema } from "./schema.js";
import type { OAuthManagerConfig } from "./types.js";
import { readYaml } from "./yaml.js";

/** Whether `inner` is `outer` or lies under it. */
function isUnder(inner: readonly PropertyKey[], outer: readonly PropertyKey[]): boolean {
  return outer.length <= inner.length && outer.every((segment, i) => inner[i] === segment);
}

/**
 * Parses and validates a YAML configuration.
 *
 * `${NAME}` and `${NAME:-default}` in any string value are replaced from `env` after the YAML is
 * parsed, so a value's YAML special characters do no harm; `$${` is a literal `${`.
 * Durations are milliseconds or strings such as `"90s"`, `"5m"`, `"1h30m"`, `"30d"`.
 *
 * @param text The YAML document.
 * @param env Environment variables for `${NAME}`. @default process.env
 * @returns The configuration, camelCase, with durations in milliseconds and dates as `Date`.
 * @throws {ConfigError} listing every problem found, each with its path; no message quotes a value.
 *   A text over 1 MiB of UTF-8 is refused before it is parsed.
 * @throws {TypeError} when `text` is not a string.
 * @example
 * ```ts
 * const config = parseConfig(await readFile("oauthmanager.yaml", "utf8"));
 * const managers = createManagers(config, { refreshFuncs: { gemini: geminiRefresh() } });
 * ```
 */
export function parseConfig(text: string, env: Env = process.env): OAuthManagerConfig {
  if (typeof text !== "string") {
    throw new TypeError(`Expected \`text\` to be a string, got ${describe(text)}`);
  }
  if (env === null || typeof env !== "object") {
    throw new TypeError(`Expected \`env\` to be an object of strings, got ${describe(env)}`);
  }
  // The length bounds the UTF-8 size from below, so a huge text is refused without a scan.
  if (text.length > MAX_CONFIG_BYTES || Buffer.byteLength(text, "utf8") > MAX_CONFIG_BYTES) {
    throw new ConfigError(tooLargeMessage());
  }
  const yaml = readYaml(text);
  if (!yaml.ok) throw new ConfigError(yaml.issues);
  const raw = yaml.value;
  if (raw === null || raw === undefined) {
    throw new ConfigError([
      { path: "", message: "the configuration is empty: expected a mapping with a providers key" },
    ]);
  }

  const issues: RawIssue[] = [];
  const data = resolveValues(raw, env, issues);
  const substitutionIssues = issues.length;
  checkProviders(data, issues);
  const result = configSchema.safeParse(data, { error: errorMap });
  if (result.success && issues.length === 0) return result.data;

  const all: RawIssue[] = [...issues];
  const dropped = issues.slice(0, substitutionIssues).map((i) => i.path);
  for (const issue of result.error?.issues ?? []) {
    // A value left out for a failed substitution would be reported again as missing.
    if (dropped.some((path) => isUnder(issue.path, path))) continue;
    all.push({ path: issue.path as RawIssue["path"], message: issue.message });
  }
  throw new ConfigError(all.map((i) => ({ path: formatPath(i.path), message: i.message })));
}

/**
 * Reads and parses a YAML configuration file; see {@link parseConfig}.
 *
 * @param path The file.
 * @param env Environment variables for `${NAME}`. @default process.env
 * @throws {ConfigError} when the file cannot be read, is a directory, is over 1 MiB (checked
 *   before reading) or is invalid; the message names the file.
 */
export async function loadConfig(
  path: string,
  env: Env = process.env,
): Promise<OAuthManagerConfig> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`Expected \`path\` to be a non-empty string, got ${describe(path)}`);
  }
  const text = await readConfigFile(path);
  try {
    return parseConfig(text, env);
  } catch (err) {
    throw err instanceof ConfigError ? inFile(path, err) : err;
  }
}
