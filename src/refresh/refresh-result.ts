/**
 * What a refresh function returns and throws, turned into the manager's terms: a validated new
 * credential, or a redacted `RefreshError` that says whether the grant is dead.
 * @module
 */
import { messageOf, RefreshError, redactSecrets } from "../errors.js";
import { statusOf } from "../health/classify.js";
import type { OAuthCredentialSet } from "../types.js";

/** OAuth error codes that mean the refresh token will never work again (RFC 6749 §5.2). */
export const PERMANENT_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  "invalid_grant",
  "invalid_client",
  "unauthorized_client",
  "refresh_token_reused",
  "refresh_token_invalidated",
]);

/** Turns whatever a refresh function threw into a `RefreshError` quoting no secret. */
export function toRefreshError(
  credentialId: string,
  err: unknown,
  secrets: readonly (string | undefined)[],
): RefreshError {
  if (err instanceof RefreshError) return redactSecrets(err, secrets);
  const safe = redactSecrets(err, secrets);
  const fields = (typeof err === "object" && err !== null ? err : {}) as {
    oauthError?: unknown;
    error?: unknown;
    permanent?: unknown;
  };
  const oauthError =
    typeof fields.oauthError === "string"
      ? fields.oauthError
      : typeof fields.error === "string"
        ? fields.error
        : undefined;
  const permanent =
    fields.permanent === true ||
    (oauthError !== undefined && PERMANENT_OAUTH_ERRORS.has(oauthError));
  const options: ConstructorParameters<typeof RefreshError>[2] = { cause: safe, permanent };
  if (oauthError !== undefined) options.oauthError = oauthError;
  const status = statusOf(err);
  if (status !== undefined) options.status = status;
  const reason = redactSecrets(messageOf(err), secrets);
  return new RefreshError(credentialId, reason, options);
}

/**
 * Merges a refresh function's result into the credential. Identity and settings stay ours; the
 * old refresh token is kept when none came back (RFC 6749 §6).
 * @throws RefreshError when the result has no usable access token or a bad expiry
 */
export function mergeRefreshed(
  before: Readonly<OAuthCredentialSet>,
  result: unknown,
  now: number,
): OAuthCredentialSet {
  const fresh = result as Partial<OAuthCredentialSet> | null | undefined;
  if (!fresh || typeof fresh !== "object") {
    throw new RefreshError(before.id, "the refresh function returned no credential");
  }
  if (typeof fresh.accessToken !== "string" || fresh.accessToken === "") {
    throw new RefreshError(before.id, "the refresh function returned no access token");
  }
  if (
    fresh.expiresAt !== undefined &&
    (!(fresh.expiresAt instanceof Date) || Number.isNaN(fresh.expiresAt.getTime()))
  ) {
    throw new RefreshError(before.id, "the refresh function returned an invalid expiresAt");
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
  return merged;
}
