/**
 * Copies of credentials crossing the manager's boundary: frozen ones for operations, mutable
 * ones for callers, both redacting their secrets when logged or serialised.
 * @module
 */
import { copyProviderData } from "../provider-data.js";
import { CREDENTIAL_VIEW, redactingCopy } from "../redacting-view.js";
import type { OAuthCredentialSet } from "../types.js";

/** A deep, frozen copy: callers can neither change ours nor be changed by us. */
export function freezeCredential(cred: OAuthCredentialSet): Readonly<OAuthCredentialSet> {
  const copy = redactingCredential(cred);
  // A credential given only a refresh token (plain JavaScript can leave `accessToken` out): no
  // token yet, so it is refreshed before first use, like `accessToken: ""`.
  if (typeof copy.accessToken !== "string") copy.accessToken = "";
  if (cred.expiresAt) copy.expiresAt = new Date(cred.expiresAt.getTime());
  if (cred.lastRefresh) copy.lastRefresh = new Date(cred.lastRefresh.getTime());
  if (cred.scopes) copy.scopes = Object.freeze([...cred.scopes]) as string[];
  if (cred.providerData) copy.providerData = Object.freeze(copyProviderData(cred.providerData));
  if (cred.source) copy.source = Object.freeze({ ...cred.source });
  return Object.freeze(copy);
}

/** A mutable deep copy for callers (`getCredentials`). */
export function cloneCredential(cred: Readonly<OAuthCredentialSet>): OAuthCredentialSet {
  const copy = redactingCredential(cred);
  if (cred.expiresAt) copy.expiresAt = new Date(cred.expiresAt.getTime());
  if (cred.lastRefresh) copy.lastRefresh = new Date(cred.lastRefresh.getTime());
  if (cred.scopes) copy.scopes = [...cred.scopes];
  if (cred.providerData) copy.providerData = copyProviderData(cred.providerData);
  if (cred.source) copy.source = { ...cred.source };
  return copy;
}

/**
 * A copy on the prototype every credential handed out shares: `console.log(cred)`,
 * `util.inspect` and `JSON.stringify` show `[REDACTED]` for its secrets, so a credential logged or
 * serialised by mistake leaks nothing, while reading a field gives the real value. Its
 * `providerData` holds no secret and is shown as it is.
 */
function redactingCredential(cred: Readonly<OAuthCredentialSet>): OAuthCredentialSet {
  return redactingCopy(CREDENTIAL_VIEW, cred as OAuthCredentialSet);
}
