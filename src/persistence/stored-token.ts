/**
 * The mapping between a credential in memory and its record in a store, and which of the two
 * is newer.
 * @module
 */
import type { PoolEntry } from "../pool/entry.js";
import { copyProviderData } from "../provider-data.js";
import type { StoredToken, StoredUsage } from "../stores/types.js";
import type { OAuthCredentialSet, RotationState } from "../types.js";

/** The record a store keeps for a credential: its tokens, rotation state and usage counters. */
export function toStored(
  view: Readonly<OAuthCredentialSet>,
  rotation: RotationState | undefined,
  usage?: StoredUsage[],
): StoredToken {
  const token: StoredToken = { accessToken: view.accessToken };
  if (rotation) token.rotation = rotation;
  if (usage) token.usage = usage;
  if (view.refreshToken) token.refreshToken = view.refreshToken;
  if (view.expiresAt) token.expiresAt = new Date(view.expiresAt.getTime());
  if (view.lastRefresh) token.lastRefresh = new Date(view.lastRefresh.getTime());
  if (view.refreshCount !== undefined) token.refreshCount = view.refreshCount;
  if (view.scopes) token.scopes = [...view.scopes];
  if (view.providerData) token.providerData = copyProviderData(view.providerData);
  return token;
}

/**
 * Whether a stored record holds newer tokens than the credential in memory: it was refreshed
 * later (a credential never refreshed is older than any stored record). Credentials without a
 * refresh token always keep their configured token.
 */
export function storedIsNewer(stored: StoredToken, entry: PoolEntry): boolean {
  // A credential without a refresh token (an API key, a static token) is never refreshed: the
  // store can only hold what was configured before, so a changed configuration wins.
  if (!entry.view.refreshToken) return false;
  if (
    stored.accessToken === entry.view.accessToken &&
    stored.refreshToken === entry.view.refreshToken
  ) {
    return false;
  }
  const mine = entry.lastRefreshAt;
  if (mine === undefined) return true;
  const theirs = stored.lastRefresh?.getTime();
  return theirs !== undefined && theirs > mine;
}

/** Puts a stored record's tokens into memory (identity and callbacks stay the configured ones). */
export function adoptStored(entry: PoolEntry, stored: StoredToken): void {
  entry.setView(withStoredTokens(entry.view, stored));
}

/**
 * The credential with the stored tokens and provider data (they come from the same token
 * endpoint answer); identity, client and callbacks stay the configured ones.
 */
export function withStoredTokens(
  view: Readonly<OAuthCredentialSet>,
  stored: StoredToken,
): OAuthCredentialSet {
  const next: OAuthCredentialSet = { ...view, accessToken: stored.accessToken };
  if (stored.refreshToken) next.refreshToken = stored.refreshToken;
  if (stored.expiresAt) next.expiresAt = new Date(stored.expiresAt.getTime());
  else delete next.expiresAt;
  if (stored.lastRefresh) next.lastRefresh = new Date(stored.lastRefresh.getTime());
  if (stored.refreshCount !== undefined) next.refreshCount = stored.refreshCount;
  if (stored.scopes) next.scopes = [...stored.scopes];
  if (stored.providerData) next.providerData = copyProviderData(stored.providerData);
  return next;
}

/** The store key of a provider's credential: what the managers read and write, and logins use. */
export const storeKey = (provider: string, id: string): string => `${provider}/${id}`;

/**
 * A credential made from a stored record alone (one another process added): its tokens, expiry,
 * scopes and provider facts; no client secret, weight or callbacks, which are never stored.
 */
export function credentialFromStored(id: string, stored: StoredToken): OAuthCredentialSet {
  return withStoredTokens({ id, accessToken: stored.accessToken }, stored);
}
