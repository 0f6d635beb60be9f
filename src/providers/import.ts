/**
 * Importing the logins that provider CLIs leave on disk, so that accounts already signed in with
 * Gemini CLI, Qwen Code, Claude Code or Codex can join a pool without a new OAuth flow.
 *
 * Each format below was read from the CLI's own source (or, for Claude Code, which is not public
 * source, from the tools that read its file); the expiry units differ per CLI and are noted.
 *
 * The CLI that wrote a file keeps refreshing the same login. Qwen, Anthropic and OpenAI rotate
 * refresh tokens: when both the CLI and a pool refresh one login, whichever refreshes second
 * holds a spent refresh token. Import a login the CLI will no longer use (or sign the CLI in
 * again afterwards), or keep the pool's store as the only refresher. Google does not rotate, so
 * a Gemini CLI login can be shared.
 * @module
 */
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { describe, isRecord } from "../describe.js";
import { ConfigError } from "../errors.js";
import { readSmallFile } from "../read-small-file.js";
import type { CredentialSource, OAuthCredentialSet, ProviderData } from "../types.js";
import { chatgptAccountId, qwenBaseUrl } from "./catalog.js";
import { jwtClaims, jwtExpiry } from "./jwt.js";

/** The CLIs whose login files {@link importCredentials} reads. */
export type ImportKind = CredentialSource["format"];

/** Every {@link ImportKind}, in a stable order. */
export const IMPORT_KINDS: readonly ImportKind[] = Object.freeze([
  "gemini-cli",
  "qwen-code",
  "claude-code",
  "codex",
]);

/** The largest login file read: 1 MiB, far above any real one (they are well under 10 KiB). */
export const MAX_CREDENTIALS_FILE_BYTES = 1024 * 1024;

const LABELS: Readonly<Record<ImportKind, string>> = {
  "gemini-cli": "Gemini CLI",
  "qwen-code": "Qwen Code",
  "claude-code": "Claude Code",
  codex: "Codex",
};

function nonEmptyEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Where the CLI keeps its login, honouring the same environment variables the CLI does:
 * - `gemini-cli`: `$GEMINI_CLI_HOME/.gemini/oauth_creds.json`, else `~/.gemini/oauth_creds.json`
 *   (google-gemini/gemini-cli packages/core/src/utils/paths.ts `homedir`, config/storage.ts
 *   `getOAuthCredsPath`).
 * - `qwen-code`: `$QWEN_HOME/oauth_creds.json`, else `~/.qwen/oauth_creds.json` (Qwen Code's
 *   `getGlobalQwenDir`; releases before `QWEN_HOME` always use `~/.qwen`).
 * - `claude-code`: `$CLAUDE_CONFIG_DIR/.credentials.json`, else `~/.claude/.credentials.json`.
 *   On macOS Claude Code keeps the login in the Keychain instead, and no file may exist.
 * - `codex`: `$CODEX_HOME/auth.json`, else `~/.codex/auth.json` (openai/codex
 *   codex-rs/utils/home-dir `find_codex_home`; codex-rs/login/src/auth/storage.rs). With
 *   keyring storage configured, Codex keeps no file.
 *
 * `~` is the home directory (`$HOME` on Linux and macOS).
 */
export function defaultCredentialsPath(kind: ImportKind): string {
  assertKind(kind);
  switch (kind) {
    case "gemini-cli":
      return join(nonEmptyEnv("GEMINI_CLI_HOME") ?? homedir(), ".gemini", "oauth_creds.json");
    case "qwen-code": {
      const qwenHome = nonEmptyEnv("QWEN_HOME");
      return join(
        qwenHome === undefined ? join(homedir(), ".qwen") : resolve(qwenHome),
        "oauth_creds.json",
      );
    }
    case "claude-code":
      return join(
        nonEmptyEnv("CLAUDE_CONFIG_DIR") ?? join(homedir(), ".claude"),
        ".credentials.json",
      );
    case "codex":
      return join(nonEmptyEnv("CODEX_HOME") ?? join(homedir(), ".codex"), "auth.json");
  }
}

/**
 * Reads the login a provider CLI saved and returns it as credentials for a pool (one per file:
 * each CLI keeps one login).
 *
 * - `id` is `<kind>:<12 hex digits>`, a hash of the account the file names (Gemini's and
 *   Codex's id_token identify the user) or else of the refresh token; never a token itself. An
 *   id from a refresh token changes when the CLI rotates that token before the next import.
 * - `expiresAt`: Gemini CLI and Qwen Code write epoch milliseconds (`expiry_date`), Claude Code
 *   epoch milliseconds (`claudeAiOauth.expiresAt`); Codex writes no expiry, so the access
 *   token's own `exp` (a JWT, seconds) is used.
 * - `providerData`: Qwen's `resource_url` as `resourceUrl` (normalised to the API base URL),
 *   Codex's ChatGPT account as `accountId`. No id_token is kept.
 * - `scopes` where the file lists them; Codex's `last_refresh` (an ISO 8601 string) as
 *   `lastRefresh`.
 *
 * Refresh them with the matching preset: `geminiRefresh`, `qwenRefresh`, `anthropicRefresh`,
 * `openaiRefresh`. The CLI may refresh the same login: see the module notes on rotation.
 *
 * With `{ owner: "external" }` the credential is left to the CLI: it gets `owner: "external"` and
 * `source: { format: kind, path }` (the path made absolute), so a pool never refreshes it and
 * re-reads the file for the CLI's newer token instead. Use it for a login the CLI goes on using.
 *
 * @param kind Which CLI wrote the file.
 * @param path The file. @default defaultCredentialsPath(kind)
 * @param options.owner Who refreshes the token. @default "manager"
 * @throws {TypeError} for an unknown `kind` or `owner`, or a `path` that is not a non-empty string.
 * @throws {ConfigError} when the file is missing, unreadable, a directory, over 1 MiB, not JSON,
 *   or not in the CLI's format; the message names the file and the field, never a token.
 */
export async function importCredentials(
  kind: ImportKind,
  path?: string,
  options?: { owner?: "manager" | "external" },
): Promise<OAuthCredentialSet[]> {
  assertKind(kind);
  if (path !== undefined && (typeof path !== "string" || path === "")) {
    throw new TypeError(`Expected \`path\` to be a non-empty string, got ${describe(path)}`);
  }
  const owner = options?.owner ?? "manager";
  if (owner !== "manager" && owner !== "external") {
    throw new TypeError(
      `Expected \`options.owner\` to be "manager" or "external", got ${describe(owner)}`,
    );
  }
  const file = path ?? defaultCredentialsPath(kind);
  const cred = await readLogin(kind, file);
  if (owner === "external") {
    cred.owner = "external";
    cred.source = { format: kind, path: resolve(file) };
  }
  return [cred];
}

/**
 * Reads an external credential's login file again: the tokens, expiry, scopes and provider data
 * the CLI wrote there last (its `id` is the one the file's login hashes to).
 * @throws {ConfigError} as {@link importCredentials} does
 */
export function readCredentialSource(source: CredentialSource): Promise<OAuthCredentialSet> {
  assertKind(source.format);
  return readLogin(source.format, source.path);
}

async function readLogin(kind: ImportKind, file: string): Promise<OAuthCredentialSet> {
  const text = await readLoginFile(kind, file);
  let json: unknown;
  try {
    // The parser's own message quotes the text around the error, which may be a token.
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    throw cannotImport(kind, file, "it is not valid JSON");
  }
  try {
    return PARSERS[kind](json);
  } catch (err) {
    if (err instanceof FormatProblem) throw cannotImport(kind, file, err.message);
    throw err;
  }
}

function assertKind(kind: unknown): asserts kind is ImportKind {
  if (typeof kind !== "string" || !(IMPORT_KINDS as readonly string[]).includes(kind)) {
    throw new TypeError(
      `Expected \`kind\` to be one of ${IMPORT_KINDS.map((k) => `"${k}"`).join(", ")}, got ${describe(kind)}`,
    );
  }
}

function cannotImport(kind: ImportKind, file: string, why: string): ConfigError {
  return new ConfigError(`cannot import the ${LABELS[kind]} login from ${file}: ${why}`);
}

// ---------------------------------------------------------------------------------------------
// Reading the file
// ---------------------------------------------------------------------------------------------

/** The file's text, read only when it is at most 1 MiB (symbolic links are followed). */
function readLoginFile(kind: ImportKind, file: string): Promise<string> {
  return readSmallFile(file, MAX_CREDENTIALS_FILE_BYTES, (problem) =>
    cannotImport(
      kind,
      file,
      problem.code === "ENOENT" ? "no such file (is the CLI signed in?)" : problem.why,
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Reading fields: messages name the field and the kind of value, never the value
// ---------------------------------------------------------------------------------------------

/** A file that parses as JSON but is not in the CLI's format. Its message holds no value. */
class FormatProblem extends Error {}

function problem(message: string): never {
  throw new FormatProblem(message);
}

function objectAt(value: unknown, name: string): Record<string, unknown> {
  if (!isRecord(value)) problem(`\`${name}\` must be an object, got ${describe(value)}`);
  return value;
}

/** A non-empty string; `null`, absent and `""` are refused. */
function requiredString(obj: Record<string, unknown>, key: string, where: string): string {
  const value = obj[key];
  if (value === undefined || value === null) problem(`\`${where}${key}\` is missing`);
  if (typeof value !== "string" || value === "") {
    problem(`\`${where}${key}\` must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/**
 * `obj[key]` as `read` takes it; `undefined` for absent or `null`, and a problem naming the field
 * and what it `must` be when `read` refuses the value.
 */
function optionalField<T>(
  obj: Record<string, unknown>,
  key: string,
  where: string,
  must: string,
  read: (value: unknown) => T | undefined,
): T | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  const taken = read(value);
  if (taken === undefined) problem(`\`${where}${key}\` must be ${must}, got ${describe(value)}`);
  return taken;
}

/** A string, or `undefined` for absent, `null` and `""` (the CLIs write all three for "none"). */
function optionalString(
  obj: Record<string, unknown>,
  key: string,
  where: string,
): string | undefined {
  if (obj[key] === "") return undefined;
  return optionalField(obj, key, where, "a string", (v) => (typeof v === "string" ? v : undefined));
}

/** Epoch milliseconds as a Date; `undefined` for absent or `null`. */
function optionalEpochMs(
  obj: Record<string, unknown>,
  key: string,
  where: string,
): Date | undefined {
  return optionalField(obj, key, where, "a positive number of epoch milliseconds", (v) =>
    typeof v === "number" && v > 0 ? validDate(new Date(v)) : undefined,
  );
}

/** An ISO 8601 date-time string as a Date; `undefined` for absent or `null`. */
function optionalIsoDate(
  obj: Record<string, unknown>,
  key: string,
  where: string,
): Date | undefined {
  return optionalField(obj, key, where, "an ISO 8601 date-time string", (v) =>
    typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v) ? validDate(new Date(v)) : undefined,
  );
}

const validDate = (date: Date) => (Number.isNaN(date.getTime()) ? undefined : date);

function optionalStringArray(
  obj: Record<string, unknown>,
  key: string,
  where: string,
): string[] | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    problem(`\`${where}${key}\` must be an array of strings, got ${describe(value)}`);
  }
  return [...(value as string[])];
}

// ---------------------------------------------------------------------------------------------
// Building the credential
// ---------------------------------------------------------------------------------------------

/**
 * A stable, non-secret id: a short hash of what identifies the login. The hash is one-way and
 * cut to 48 bits, so even when the identity is a refresh token nothing usable leaks.
 */
function credentialId(kind: string, identity: string): string {
  const digest = createHash("sha256").update(`${kind}\n${identity}`).digest("hex");
  return `${kind}:${digest.slice(0, 12)}`;
}

/**
 * The id {@link importCredentials} gives a login of `kind` with these tokens, so that a login
 * made another way (`oauthmanager login`) for the same account gets the same id: a hash of the
 * account an id_token names (for `codex`, its user and workspace), else of the refresh token.
 * Any other `kind` (a provider's name) is hashed the same way.
 */
export function loginCredentialId(
  kind: string,
  tokens: { idToken?: string; accountId?: string; refreshToken?: string; accessToken: string },
): string {
  const identity =
    (kind === "codex"
      ? codexIdentity(tokens.idToken, tokens.accountId)
      : subject(tokens.idToken)) ?? `token:${tokens.refreshToken ?? tokens.accessToken}`;
  return credentialId(kind, identity);
}

interface Login {
  identity: string;
  accessToken: string;
  refreshToken?: string | undefined;
  expiresAt?: Date | undefined;
  scopes?: string[] | undefined;
  lastRefresh?: Date | undefined;
  providerData?: ProviderData | undefined;
}

function credential(kind: ImportKind, login: Login): OAuthCredentialSet {
  const cred: OAuthCredentialSet = {
    id: credentialId(kind, login.identity),
    accessToken: login.accessToken,
  };
  if (login.refreshToken !== undefined) cred.refreshToken = login.refreshToken;
  if (login.expiresAt !== undefined) cred.expiresAt = login.expiresAt;
  if (login.scopes !== undefined && login.scopes.length > 0) cred.scopes = login.scopes;
  if (login.lastRefresh !== undefined) cred.lastRefresh = login.lastRefresh;
  if (login.providerData !== undefined && Object.keys(login.providerData).length > 0) {
    cred.providerData = login.providerData;
  }
  return cred;
}

/** The `sub` claim of an id_token, when the file kept one. */
function subject(idToken: string | undefined): string | undefined {
  const sub = jwtClaims(idToken)?.sub;
  return typeof sub === "string" && sub !== "" ? `sub:${sub}` : undefined;
}

/** A login needs something to present or something to refresh with. */
function tokens(
  accessToken: string | undefined,
  refreshToken: string | undefined,
  names: string,
): { accessToken: string; identity: string } {
  if (accessToken === undefined && refreshToken === undefined) problem(`${names} are missing`);
  // A pool refreshes a credential whose access token is "" before its first use.
  return {
    accessToken: accessToken ?? "",
    identity: `token:${refreshToken ?? accessToken}`,
  };
}

// ---------------------------------------------------------------------------------------------
// The formats
// ---------------------------------------------------------------------------------------------

/**
 * Gemini CLI: google-auth-library's `Credentials` as JSON (`cacheCredentials` in
 * google-gemini/gemini-cli packages/core/src/code_assist/oauth2.ts):
 * `{access_token, refresh_token, scope, token_type, id_token, expiry_date}`, `expiry_date` in
 * epoch milliseconds, `scope` space-separated.
 */
function parseGeminiCli(json: unknown): OAuthCredentialSet {
  const root = objectAt(json, "(file)");
  if (typeof root.type === "string") {
    // gemini-cli also reads other Google credential files (external_account_authorized_user,
    // service accounts) that carry no refresh grant for this client.
    problem("it holds another kind of Google credential (a `type` field), not a Gemini CLI login");
  }
  const accessToken = optionalString(root, "access_token", "");
  const refreshToken = optionalString(root, "refresh_token", "");
  const base = tokens(accessToken, refreshToken, "`access_token` and `refresh_token`");
  const scope = optionalString(root, "scope", "");
  return credential("gemini-cli", {
    identity: subject(optionalString(root, "id_token", "")) ?? base.identity,
    accessToken: base.accessToken,
    refreshToken,
    expiresAt: optionalEpochMs(root, "expiry_date", ""),
    scopes: scope?.split(/\s+/).filter((s) => s !== ""),
  });
}

/**
 * Qwen Code: `{access_token, refresh_token, token_type, resource_url, expiry_date, id_token?}`,
 * `expiry_date` in epoch milliseconds. The first four but `resource_url` are required, as Qwen
 * Code's own check (`validateCredentials` in QwenLM/qwen-code
 * packages/core/src/qwen/sharedTokenManager.ts) requires them.
 */
function parseQwenCode(json: unknown): OAuthCredentialSet {
  const root = objectAt(json, "(file)");
  const accessToken = requiredString(root, "access_token", "");
  const refreshToken = requiredString(root, "refresh_token", "");
  requiredString(root, "token_type", "");
  const expiresAt = optionalEpochMs(root, "expiry_date", "");
  if (expiresAt === undefined) problem("`expiry_date` is missing");
  const rawResourceUrl = optionalString(root, "resource_url", "");
  const resourceUrl = qwenBaseUrl(rawResourceUrl);
  if (rawResourceUrl !== undefined && resourceUrl === undefined) {
    problem("`resource_url` must be a host name or an http(s) URL");
  }
  return credential("qwen-code", {
    identity: subject(optionalString(root, "id_token", "")) ?? `token:${refreshToken}`,
    accessToken,
    refreshToken,
    expiresAt,
    providerData: resourceUrl === undefined ? undefined : { resourceUrl },
  });
}

/**
 * Claude Code: `{"claudeAiOauth": {accessToken, refreshToken, expiresAt, scopes,
 * subscriptionType}}`, `expiresAt` in epoch milliseconds. Claude Code is not public source; the
 * shape is the one the tools reading this file agree on (e.g. the entelix-auth-claude-code
 * crate's src/credential.rs). Other top-level keys (such as `mcpOAuth`) are ignored.
 */
function parseClaudeCode(json: unknown): OAuthCredentialSet {
  const root = objectAt(json, "(file)");
  if (root.claudeAiOauth === undefined || root.claudeAiOauth === null) {
    problem("it has no `claudeAiOauth` login");
  }
  const oauth = objectAt(root.claudeAiOauth, "claudeAiOauth");
  const where = "claudeAiOauth.";
  const accessToken = optionalString(oauth, "accessToken", where);
  const refreshToken = optionalString(oauth, "refreshToken", where);
  const base = tokens(
    accessToken,
    refreshToken,
    "`claudeAiOauth.accessToken` and `claudeAiOauth.refreshToken`",
  );
  return credential("claude-code", {
    identity: base.identity,
    accessToken: base.accessToken,
    refreshToken,
    expiresAt: optionalEpochMs(oauth, "expiresAt", where),
    scopes: optionalStringArray(oauth, "scopes", where),
  });
}

/**
 * Codex: `{OPENAI_API_KEY, tokens: {id_token, access_token, refresh_token, account_id},
 * last_refresh}` (`AuthDotJson` in openai/codex codex-rs/login/src/auth/storage.rs, `TokenData`
 * in codex-rs/login/src/token_data.rs); `last_refresh` an ISO 8601 string. No expiry is written:
 * Codex reads the access token's JWT `exp`, and so does this.
 */
function parseCodex(json: unknown): OAuthCredentialSet {
  const root = objectAt(json, "(file)");
  if (root.tokens === undefined || root.tokens === null) {
    if (typeof root.OPENAI_API_KEY === "string" && root.OPENAI_API_KEY !== "") {
      problem("it holds an API key, not a ChatGPT login (pool API keys with KeyManager)");
    }
    problem("it has no `tokens` (no ChatGPT login)");
  }
  const t = objectAt(root.tokens, "tokens");
  const where = "tokens.";
  const accessToken = requiredString(t, "access_token", where);
  const refreshToken = requiredString(t, "refresh_token", where);
  const idToken = optionalString(t, "id_token", where);
  const accountId = optionalString(t, "account_id", where) ?? chatgptAccountId(idToken);
  return credential("codex", {
    identity: codexIdentity(idToken, accountId) ?? `token:${refreshToken}`,
    accessToken,
    refreshToken,
    expiresAt: jwtExpiry(accessToken),
    lastRefresh: optionalIsoDate(root, "last_refresh", ""),
    providerData: accountId === undefined ? undefined : { accountId },
  });
}

/**
 * The user and workspace a Codex login belongs to: the account id alone is a workspace, which
 * several users of one ChatGPT team share.
 */
function codexIdentity(
  idToken: string | undefined,
  accountId: string | undefined,
): string | undefined {
  const claims = jwtClaims(idToken);
  const auth = isRecord(claims?.["https://api.openai.com/auth"])
    ? (claims["https://api.openai.com/auth"] as Record<string, unknown>)
    : undefined;
  const user = [auth?.chatgpt_user_id, auth?.user_id, claims?.sub].find(
    (v): v is string => typeof v === "string" && v !== "",
  );
  return user === undefined ? undefined : `user:${user}|${accountId ?? ""}`;
}

const PARSERS: Readonly<Record<ImportKind, (json: unknown) => OAuthCredentialSet>> = {
  "gemini-cli": parseGeminiCli,
  "qwen-code": parseQwenCode,
  "claude-code": parseClaudeCode,
  codex: parseCodex,
};
