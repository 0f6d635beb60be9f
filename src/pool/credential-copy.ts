/**
 * Copies of credentials crossing the manager's boundary: frozen ones for operations, mutable
 * ones for callers, both redacting their secrets when logged or serialised.
 * @module
 */
import { inspect } from "node:util";
import type { OAuthCredentialSet } from "../types.js";

/** A deep, frozen copy: callers can neither change ours nor be changed by us. */
export function freezeCredential(cred: OAuthCredentialSet): Readonly<OAuthCredentialSet> {
  const copy = redactingCopy(cred);
  if (cred.expiresAt) copy.expiresAt = new Date(cred.expiresAt.getTime());
  if (cred.lastRefresh) copy.lastRefresh = new Date(cred.lastRefresh.getTime());
  if (cred.scopes) copy.scopes = Object.freeze([...cred.scopes]) as string[];
  return Object.freeze(copy);
}

/** A mutable deep copy for callers (`getCredentials`). */
export function cloneCredential(cred: Readonly<OAuthCredentialSet>): OAuthCredentialSet {
  const copy = redactingCopy(cred);
  if (cred.expiresAt) copy.expiresAt = new Date(cred.expiresAt.getTime());
  if (cred.lastRefresh) copy.lastRefresh = new Date(cred.lastRefresh.getTime());
  if (cred.scopes) copy.scopes = [...cred.scopes];
  return copy;
}

const SECRET_FIELDS = ["accessToken", "refreshToken", "clientSecret"] as const;

/**
 * The prototype of every credential object the manager hands out: `console.log(cred)`,
 * `util.inspect` and `JSON.stringify` show `[REDACTED]` for secrets, so a credential logged or
 * serialised by mistake leaks nothing. On the prototype, so a spread copy or reading a field keeps
 * the real values the caller owns, and copying costs no more than a plain object.
 */
const REDACTING: object = Object.freeze(
  Object.defineProperties(Object.create(Object.prototype), {
    [inspect.custom]: {
      value(this: OAuthCredentialSet, depth: number, options: object) {
        return inspect(redacted(this), { ...options, depth });
      },
    },
    toJSON: {
      value(this: OAuthCredentialSet) {
        return redacted(this);
      },
    },
  }),
);

function redactingCopy(cred: Readonly<OAuthCredentialSet>): OAuthCredentialSet {
  return Object.assign(Object.create(REDACTING) as OAuthCredentialSet, cred);
}

function redacted(cred: OAuthCredentialSet): Record<string, unknown> {
  const shown: Record<string, unknown> = { ...cred };
  for (const field of SECRET_FIELDS) if (shown[field]) shown[field] = "[REDACTED]";
  return shown;
}
