/**
 * Credentials another program refreshes (`owner: "external"`, a provider's CLI): the manager
 * never spends their refresh token, which would rotate it under the CLI. It re-reads the file the
 * CLI keeps up to date instead, and takes the newer token found there.
 * @module
 */

import type { PoolEntry } from "../pool/entry.js";
import { mergeProviderData } from "../provider-data.js";
import type { CredentialSource, OAuthCredentialSet } from "../types.js";

/** Reads a source file's login (its tokens, expiry, scopes and provider data). */
export type SourceReader = (source: CredentialSource) => Promise<OAuthCredentialSet>;

/** What a re-read found. */
export type Reread =
  | { kind: "newer"; cred: OAuthCredentialSet }
  /** The file holds the token in use, or an older one, and that token is still valid. */
  | { kind: "unchanged" }
  /** The file holds no token newer than the one in use, and that one has expired. */
  | { kind: "stale"; expiredAt: number | undefined };

/** Re-reads of external credentials' files, spaced by a minimum interval per credential. */
export class ExternalSources {
  readonly #read: SourceReader;
  readonly #recheckMs: number;
  /** When each credential's file was last read (epoch ms). */
  readonly #checkedAt = new WeakMap<PoolEntry, number>();

  /**
   * @param read reads a source file
   * @param recheckMs the least time between two reads of one credential's file that are not
   *   caused by a refused token
   */
  constructor(read: SourceReader, recheckMs: number) {
    this.#read = read;
    this.#recheckMs = recheckMs;
  }

  /** Read less than the recheck interval ago. */
  recentlyChecked(entry: PoolEntry, now: number): boolean {
    const at = this.#checkedAt.get(entry);
    return at !== undefined && now - at < this.#recheckMs;
  }

  /** The earliest time the next due re-read of `entry` may happen. */
  notBefore(entry: PoolEntry): number | undefined {
    const at = this.#checkedAt.get(entry);
    return at === undefined ? undefined : at + this.#recheckMs;
  }

  /**
   * Reads `entry`'s source file now and compares its token with the one in use.
   * @throws what the reader throws (a missing or malformed file)
   */
  async reread(entry: PoolEntry, source: CredentialSource, now: number): Promise<Reread> {
    this.#checkedAt.set(entry, now);
    const read = await this.#read(source);
    const view = entry.view;
    const readExpiry = read.expiresAt?.getTime();
    const fresh = readExpiry === undefined || readExpiry > now;
    if (read.accessToken !== "" && read.accessToken !== view.accessToken && fresh) {
      return { kind: "newer", cred: withSourceTokens(view, read, now) };
    }
    const expiresAt = entry.expiresAtMs;
    if (view.accessToken === "" || (expiresAt !== undefined && expiresAt <= now)) {
      return { kind: "stale", expiredAt: expiresAt };
    }
    return { kind: "unchanged" };
  }
}

/** The credential with the file's tokens; identity, owner, source and callbacks stay. */
function withSourceTokens(
  view: Readonly<OAuthCredentialSet>,
  read: OAuthCredentialSet,
  now: number,
): OAuthCredentialSet {
  const next: OAuthCredentialSet = { ...view, accessToken: read.accessToken };
  if (read.refreshToken) next.refreshToken = read.refreshToken;
  if (read.expiresAt) next.expiresAt = new Date(read.expiresAt.getTime());
  else delete next.expiresAt;
  next.lastRefresh = read.lastRefresh ? new Date(read.lastRefresh.getTime()) : new Date(now);
  if (read.scopes) next.scopes = [...read.scopes];
  const providerData = mergeProviderData(view.providerData, read.providerData);
  if (providerData) next.providerData = providerData;
  return next;
}
