/**
 * Credentials and the operation shared by the benchmarks.
 * @module
 */
import type { KeyOperation, OAuthCredentialSet, Operation } from "oauthmanager";

const YEAR_MS = 365 * 24 * 3_600_000;

/** The measured operation: as cheap as an async call can be, so what remains is the pool's cost. */
export const op: Operation<string> = async (cred) => ({ result: cred.id });

/** The same operation for an API key pool. */
export const keyOp: KeyOperation<string> = async (key) => ({ result: key });

/** `n` credentials whose tokens stay fresh for a year: no refresh ever runs. */
export function freshCredentials(n: number, prefix = "cred"): OAuthCredentialSet[] {
  const expiresAt = new Date(Date.now() + YEAR_MS);
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    accessToken: `access-token-${prefix}-${i}`,
    refreshToken: `refresh-token-${prefix}-${i}`,
    expiresAt,
  }));
}

/** A 429 whose Retry-After (1 h) keeps a credential cooling for the whole run. */
export const RATE_LIMITED = { status: 429, headers: { "retry-after": "3600" } };
