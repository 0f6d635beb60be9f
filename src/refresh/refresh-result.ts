/**
 * What a refresh function returns and throws, turned into the manager's terms: a validated new
 * credential, or a redacted `RefreshError` that says whether the grant is dead.
 * @module
 */
import { inspect } from "node:util";
import { describe } from "../describe.js";
import { messageOf, RefreshError, redactSecrets } from "../errors.js";
import { statusOf } from "../health/classify.js";
import { mergeProviderData, providerDataIssues } from "../provider-data.js";
import type { OAuthCredentialSet } from "../types.js";

/** OAuth error codes that mean the refresh token will never work again (RFC 6749 §5.2). */
export const PERMANENT_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  "invalid_grant",
  "invalid_client",
  "unauthorized_client",
  "refresh_token_reused",
  "refresh_token_invalidated",
]);

/**
 * Turns whatever a refresh function threw into a `RefreshError` quoting no secret. Never throws:
 * any rejection value is a refresh failure, even one whose fields or text throw when read.
 */
export function toRefreshError(
  credentialId: string,
  err: unknown,
  secrets: readonly (string | undefined)[],
): RefreshError {
  if (isRefreshError(err)) {
    const redacted = redactSecrets(err, secrets);
    if (inspectable(redacted)) return redacted;
  }
  const safe = redactSecrets(err, secrets);
  const oauthErrorField = field(err, "oauthError");
  const errorField = field(err, "error");
  const oauthError =
    typeof oauthErrorField === "string"
      ? oauthErrorField
      : typeof errorField === "string"
        ? errorField
        : undefined;
  const permanent =
    field(err, "permanent") === true ||
    (oauthError !== undefined && PERMANENT_OAUTH_ERRORS.has(oauthError));
  const options: ConstructorParameters<typeof RefreshError>[2] = { cause: safe, permanent };
  if (oauthError !== undefined) options.oauthError = oauthError;
  const status = statusOf(err);
  if (status !== undefined) options.status = status;
  const reason = redactSecrets(messageOf(err), secrets);
  const error = new RefreshError(credentialId, reason, options);
  if (inspectable(error)) return error;
  // A cause that throws when inspected would make every log line showing the error throw: the
  // message already says what could be read of it.
  delete options.cause;
  return new RefreshError(credentialId, reason, options);
}

/** `err.key`, or undefined when `err` is not an object or reading it throws. */
function field(err: unknown, key: string): unknown {
  if ((typeof err !== "object" && typeof err !== "function") || err === null) return undefined;
  try {
    return (err as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/**
 * `value` when loggers can show it, else an `Error` carrying what could be read of it: a value
 * that throws when inspected would make the log call itself throw.
 */
export function loggable(value: unknown): unknown {
  return inspectable(value) ? value : new Error(messageOf(value));
}

/** Whether `util.inspect` (and so `console.log`, loggers, test reporters) can show `value`. */
function inspectable(value: unknown): boolean {
  try {
    inspect(value);
    return true;
  } catch {
    return false;
  }
}

/** `instanceof`, which a proxy that refuses to tell its prototype makes throw. */
function isRefreshError(err: unknown): err is RefreshError {
  try {
    return err instanceof RefreshError;
  } catch {
    return false;
  }
}

/**
 * The refresh token a refresh function's result carries when it differs from the one spent, else
 * undefined. Read even from a result that is refused otherwise: a provider that rotates refresh
 * tokens has already invalidated the old one, so losing the new one would lose the grant.
 */
export function rotatedRefreshToken(
  before: Readonly<OAuthCredentialSet>,
  result: unknown,
): string | undefined {
  if (typeof result !== "object" || result === null) return undefined;
  let token: unknown;
  try {
    token = (result as Partial<OAuthCredentialSet>).refreshToken;
  } catch {
    return undefined;
  }
  return typeof token === "string" && token !== "" && token !== before.refreshToken
    ? token
    : undefined;
}

/**
 * Merges a refresh function's result into the credential. Identity and settings stay ours; the
 * old refresh token is kept when none came back (RFC 6749 §6); provider data fields that came
 * back replace the old ones, the others stay.
 * @throws RefreshError (transient) when the result is not a credential object, has no usable
 * access token, a bad expiry, a token that has already expired at `now`, or invalid provider data
 */
export function mergeRefreshed(
  before: Readonly<OAuthCredentialSet>,
  result: unknown,
  now: number,
): OAuthCredentialSet {
  // What arrived is named by its kind only: a refresh function returning the bare token string
  // must not put it in the error.
  if (typeof result !== "object" || result === null) {
    throw new RefreshError(
      before.id,
      `the refresh function returned ${describe(result)}, not a credential object`,
    );
  }
  const fresh = result as Partial<OAuthCredentialSet>;
  if (typeof fresh.accessToken !== "string" || fresh.accessToken === "") {
    throw new RefreshError(
      before.id,
      `the refresh function returned a credential whose accessToken is ${describe(fresh.accessToken)}, not a non-empty string`,
    );
  }
  if (
    fresh.expiresAt !== undefined &&
    (!(fresh.expiresAt instanceof Date) || Number.isNaN(fresh.expiresAt.getTime()))
  ) {
    throw new RefreshError(before.id, "the refresh function returned an invalid expiresAt");
  }
  // Serving it would only earn a 401 per request; as a failure it is counted and backed off,
  // and the request moves on to another credential.
  if (fresh.expiresAt !== undefined && fresh.expiresAt.getTime() <= now) {
    throw new RefreshError(before.id, "token refresh returned a token that has already expired");
  }
  const dataIssue =
    fresh.providerData === undefined ? undefined : providerDataIssues(fresh.providerData)[0];
  if (dataIssue) {
    throw new RefreshError(
      before.id,
      `the refresh function returned a credential whose providerData${dataIssue.path} ${dataIssue.message}`,
    );
  }
  const merged: OAuthCredentialSet = {
    ...before,
    accessToken: fresh.accessToken,
    lastRefresh: new Date(now),
    refreshCount: (before.refreshCount ?? 0) + 1,
  };
  if (typeof fresh.refreshToken === "string" && fresh.refreshToken !== "") {
    merged.refreshToken = fresh.refreshToken;
  }
  if (fresh.expiresAt) merged.expiresAt = fresh.expiresAt;
  else delete merged.expiresAt;
  if (Array.isArray(fresh.scopes)) merged.scopes = [...fresh.scopes];
  const providerData = mergeProviderData(before.providerData, fresh.providerData);
  if (providerData) merged.providerData = providerData;
  return merged;
}
