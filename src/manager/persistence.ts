/**
 * The manager's side of a token store: keys, timeouts, and the mapping between credentials and
 * stored records. Every call is bounded by a timeout, so a slow store can never hang a request;
 * failures are reported to the manager, which goes on from memory.
 * @module
 */
import { raceTimeout } from "../clock.js";
import { StoreError } from "../errors.js";
import type { StoredRotation, StoredToken, TokenStore } from "../stores/types.js";
import type { OAuthCredentialSet } from "../types.js";
import type { CredentialEntry, EntryRotation } from "./credential-entry.js";

export interface PersistenceOptions {
  /** Every load, save and delete gives up after this long. */
  timeoutMs: number;
  /** The longest wait for another process's refresh under the store lock. */
  lockTimeoutMs: number;
}

export class Persistence {
  readonly #store: TokenStore;
  readonly #prefix: string;
  readonly #options: PersistenceOptions;

  constructor(store: TokenStore, provider: string, options: PersistenceOptions) {
    this.#store = store;
    this.#prefix = `${provider}/`;
    this.#options = options;
  }

  key(id: string): string {
    return this.#prefix + id;
  }

  /** Every stored record of this provider, by credential id. */
  async loadAll(): Promise<Map<string, StoredToken>> {
    const all = await this.#bounded("load", this.#store.loadAll(this.#prefix));
    const byId = new Map<string, StoredToken>();
    for (const [key, token] of all) byId.set(key.slice(this.#prefix.length), token);
    return byId;
  }

  load(id: string): Promise<StoredToken | undefined> {
    return this.#bounded("load", this.#store.load(this.key(id)));
  }

  save(id: string, token: StoredToken): Promise<StoredToken> {
    return this.#bounded("save", this.#store.save(this.key(id), token));
  }

  delete(id: string): Promise<void> {
    return this.#bounded("delete", this.#store.delete(this.key(id)));
  }

  /** Runs `fn` under the store's lock for this credential, shared by every process using the store. */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const ms = this.#options.lockTimeoutMs;
    // Bounded here too, for a store that ignores its own lock timeout: the wait for the lock
    // plus the refresh inside it may take up to twice the lock timeout.
    return raceTimeout(
      this.#store.withLock(this.key(id), fn, { timeoutMs: ms }),
      2 * ms,
      () => new StoreError(`token store lock on ${id} not settled within ${2 * ms} ms`),
    );
  }

  #bounded<T>(operation: string, promise: Promise<T>): Promise<T> {
    const ms = this.#options.timeoutMs;
    return raceTimeout(
      promise,
      ms,
      () => new StoreError(`token store ${operation} timed out after ${ms} ms`),
    );
  }
}

/** The record a store keeps for a credential: its tokens and its rotation state. */
export function toStored(view: Readonly<OAuthCredentialSet>, rotation: EntryRotation): StoredToken {
  const token: StoredToken = {
    accessToken: view.accessToken,
    rotation: toStoredRotation(rotation),
  };
  if (view.refreshToken) token.refreshToken = view.refreshToken;
  if (view.expiresAt) token.expiresAt = new Date(view.expiresAt.getTime());
  if (view.lastRefresh) token.lastRefresh = new Date(view.lastRefresh.getTime());
  if (view.refreshCount !== undefined) token.refreshCount = view.refreshCount;
  if (view.scopes) token.scopes = [...view.scopes];
  return token;
}

function toStoredRotation(r: EntryRotation): StoredRotation {
  const out: StoredRotation = {
    createdAt: new Date(r.createdAt),
    markedForRotation: r.markedForRotation,
  };
  if (r.rotationStartedAt !== undefined) out.rotationStartedAt = new Date(r.rotationStartedAt);
  if (r.replacementId !== undefined) out.replacementId = r.replacementId;
  if (r.decommissionAt !== undefined) out.decommissionAt = new Date(r.decommissionAt);
  return out;
}

export function fromStoredRotation(
  r: StoredRotation,
  notified: boolean | undefined,
): EntryRotation {
  const out: EntryRotation = {
    createdAt: r.createdAt.getTime(),
    markedForRotation: r.markedForRotation,
  };
  if (r.rotationStartedAt) out.rotationStartedAt = r.rotationStartedAt.getTime();
  if (r.replacementId !== undefined) out.replacementId = r.replacementId;
  if (r.decommissionAt) out.decommissionAt = r.decommissionAt.getTime();
  if (notified) out.rotationNotified = true;
  return out;
}

/**
 * Whether a stored record holds newer tokens than the credential in memory: it was refreshed
 * later (a credential never refreshed is older than any stored record). Credentials without a
 * refresh token always keep their configured token.
 */
export function storedIsNewer(stored: StoredToken, entry: CredentialEntry): boolean {
  // A credential without a refresh token (an API key, a static token) is never refreshed: the
  // store can only hold what was configured before, so a changed configuration wins.
  if (!entry.view.refreshToken) return false;
  if (
    stored.accessToken === entry.view.accessToken &&
    stored.refreshToken === entry.view.refreshToken
  ) {
    return false;
  }
  const mine = entry.view.lastRefresh?.getTime();
  if (mine === undefined) return true;
  const theirs = stored.lastRefresh?.getTime();
  return theirs !== undefined && theirs > mine;
}

/** The credential with the stored tokens; identity, client and callbacks stay the configured ones. */
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
  return next;
}
