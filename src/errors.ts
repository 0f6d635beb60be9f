/**
 * Every error this package throws. None carries a token or secret: messages name credentials by
 * id, and causes that quote a secret are redacted copies (see {@link redactSecrets}).
 * @module
 */
export { redactSecrets } from "./redact.js";

/** No credential is configured. */
export const NO_CREDENTIALS = "NO_CREDENTIALS";
/** Every credential is in backoff, cooling down or needs re-authentication. */
export const ALL_UNAVAILABLE = "ALL_UNAVAILABLE";
/** Every attempt of one `executeWithFailover` failed. */
export const FAILOVER_EXHAUSTED = "FAILOVER_EXHAUSTED";
/** A token refresh failed. */
export const REFRESH_FAILED = "REFRESH_FAILED";
/** A configuration or argument names something invalid. */
export const INVALID_CONFIG = "INVALID_CONFIG";
/** The manager was closed. */
export const CLOSED = "CLOSED";
/** A token store failed, timed out, or holds a file it cannot read. */
export const STORE_FAILED = "STORE_FAILED";
/** A rotation step was refused: unknown credential, not marked, grace period not over, callback failed. */
export const ROTATION_FAILED = "ROTATION_FAILED";

/** The `code` of every {@link OAuthManagerError}. */
export type ErrorCode =
  | typeof NO_CREDENTIALS
  | typeof ALL_UNAVAILABLE
  | typeof FAILOVER_EXHAUSTED
  | typeof REFRESH_FAILED
  | typeof INVALID_CONFIG
  | typeof CLOSED
  | typeof STORE_FAILED
  | typeof ROTATION_FAILED;

/** What a pool holds, as its errors name it: OAuth credentials, or API keys for `KeyManager`. */
export type PooledKind = "OAuth credential" | "API key";

/** Base class of every error this package throws. */
export class OAuthManagerError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "OAuthManagerError";
  }
}

/** Thrown when a manager has no credential at all. */
export class NoCredentialsError extends OAuthManagerError {
  /** @param kind what the pool holds, for the message @default "OAuth credential" */
  constructor(provider: string, kind: PooledKind = "OAuth credential") {
    super(NO_CREDENTIALS, `no ${kind}s configured for ${provider}`);
    this.name = "NoCredentialsError";
  }
}

/** Thrown at once when no credential can be used now; `retryAfterMs` says when one can. */
export class CredentialsUnavailableError extends OAuthManagerError {
  /** Milliseconds until the soonest credential leaves backoff; undefined when none will by itself. */
  readonly retryAfterMs: number | undefined;

  /** @param kind what the pool holds, for the message @default "OAuth credential" */
  constructor(
    provider: string,
    total: number,
    retryAfterMs: number | undefined,
    kind: PooledKind = "OAuth credential",
  ) {
    super(ALL_UNAVAILABLE, `all ${total} ${kind}s for ${provider} are currently unavailable`);
    this.name = "CredentialsUnavailableError";
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Thrown when every attempt of one call failed; `errors` holds each attempt's error in order.
 * When attempts were turned away by rate limits or cooldowns, `retryAfterMs` says when the
 * soonest credential is available again (0: one is available now).
 */
export class FailoverExhaustedError extends OAuthManagerError {
  readonly errors: readonly unknown[];
  /** Milliseconds until the soonest credential is available again, after rate limits. */
  readonly retryAfterMs: number | undefined;

  constructor(
    provider: string,
    errors: readonly unknown[],
    options: { retryAfterMs?: number | undefined; kind?: PooledKind } = {},
  ) {
    const last = errors[errors.length - 1];
    super(
      FAILOVER_EXHAUSTED,
      `${provider}: all ${errors.length} ${options.kind ?? "OAuth credential"} failover attempts failed, last error: ${messageOf(last)}`,
      { cause: last },
    );
    this.name = "FailoverExhaustedError";
    this.errors = errors;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Thrown when a token refresh fails. `permanent` means the grant is dead: re-authenticate. */
export class RefreshError extends OAuthManagerError {
  readonly credentialId: string;
  /** The OAuth `error` code the token endpoint answered, e.g. `invalid_grant`. */
  readonly oauthError: string | undefined;
  readonly permanent: boolean;
  /** The HTTP status of the token endpoint, when it answered. */
  readonly status: number | undefined;

  constructor(
    credentialId: string,
    reason: string,
    options: { cause?: unknown; oauthError?: string; permanent?: boolean; status?: number } = {},
  ) {
    super(
      REFRESH_FAILED,
      `failed to refresh OAuth token for credential ${credentialId}: ${reason}`,
      {
        cause: options.cause,
      },
    );
    this.name = "RefreshError";
    this.credentialId = credentialId;
    this.oauthError = options.oauthError;
    this.permanent = options.permanent ?? false;
    this.status = options.status;
  }
}

/** One problem in a configuration, by path. */
export interface ConfigIssue {
  /** e.g. `providers.gemini.oauth_credentials[1].expires_at`; `""` for the whole input. */
  path: string;
  message: string;
}

/** Thrown for invalid configuration or credentials; lists every problem at once. */
export class ConfigError extends OAuthManagerError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[] | string) {
    const list = typeof issues === "string" ? [{ path: "", message: issues }] : issues;
    super(
      INVALID_CONFIG,
      list.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("\n"),
    );
    this.name = "ConfigError";
    this.issues = list;
  }
}

/** Thrown by a closed manager or store. */
export class ClosedError extends OAuthManagerError {
  constructor(what: string) {
    super(CLOSED, `${what} is closed`);
    this.name = "ClosedError";
  }
}

/** Thrown when a token store fails; `path` names the file when there is one. */
export class StoreError extends OAuthManagerError {
  readonly path: string | undefined;

  constructor(message: string, options: { cause?: unknown; path?: string } = {}) {
    super(STORE_FAILED, message, { cause: options.cause });
    this.name = "StoreError";
    this.path = options.path;
  }
}

/**
 * Thrown by a store's `withLock` when another holder kept the lock for the whole wait: the lock
 * works and is busy. Any other rejection of `withLock` means the lock could not be taken at all
 * (a read-only or forbidden lock directory, a store that is down), which the manager treats as a
 * store failure rather than as another process refreshing.
 */
export class LockTimeoutError extends StoreError {
  constructor(message: string, options: { cause?: unknown; path?: string } = {}) {
    super(message, options);
    this.name = "LockTimeoutError";
  }
}

/** True for a {@link LockTimeoutError}, across realms and duplicate installs. */
export function isLockTimeoutError(err: unknown): err is LockTimeoutError {
  return (
    err instanceof LockTimeoutError ||
    (isOAuthManagerError(err) && err.code === STORE_FAILED && err.name === "LockTimeoutError")
  );
}

/** Thrown when a rotation step is refused (unknown or unmarked credential, grace period, callback). */
export class RotationError extends OAuthManagerError {
  readonly credentialId: string;

  constructor(credentialId: string, message: string, options: { cause?: unknown } = {}) {
    super(ROTATION_FAILED, message, options);
    this.name = "RotationError";
    this.credentialId = credentialId;
  }
}

/** True for any error of this package, across realms and duplicate installs. */
export function isOAuthManagerError(err: unknown): err is OAuthManagerError {
  return (
    err instanceof OAuthManagerError ||
    (err instanceof Error &&
      typeof (err as { code?: unknown }).code === "string" &&
      CODES.has((err as unknown as { code: string }).code))
  );
}

const CODES = new Set<string>([
  NO_CREDENTIALS,
  ALL_UNAVAILABLE,
  FAILOVER_EXHAUSTED,
  REFRESH_FAILED,
  INVALID_CONFIG,
  CLOSED,
  STORE_FAILED,
  ROTATION_FAILED,
]);

/**
 * The message of anything thrown, for composing our own messages. Never throws: a value that
 * cannot be read (a getter or `toString` that throws, a revoked proxy, an object without a
 * prototype) still stands for a failure that must be reported.
 */
export function messageOf(err: unknown): string {
  try {
    if (err instanceof Error) {
      const message: unknown = err.message;
      return typeof message === "string" ? message : String(message);
    }
    if (typeof err === "string") return err;
    return String(err);
  } catch {
    return `an unreadable ${typeof err} was thrown`;
  }
}
