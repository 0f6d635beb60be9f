/**
 * The logins a store holds beside the configured credentials: `oauthmanager login` and `import`
 * put them there, and they join the provider's pool like the ones the file lists.
 * @module
 */
import type { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import { credentialFromStored, storeKey } from "../persistence/stored-token.js";
import type { StoredToken, TokenStore } from "../stores/types.js";
import type { OAuthCredentialSet } from "../types.js";
import type { OAuthManagerConfig } from "./types.js";

/**
 * A stored record as a credential of `provider`. It refreshes with the provider's `login`
 * client when one is configured (the client it signed in with), else with the preset's.
 */
export function storedCredential(
  config: OAuthManagerConfig,
  provider: string,
  id: string,
  token: StoredToken,
): OAuthCredentialSet {
  const cred = credentialFromStored(id, token);
  const login = config.providers[provider]?.login;
  if (login?.clientId !== undefined) cred.clientId = login.clientId;
  if (login?.clientSecret !== undefined) cred.clientSecret = login.clientSecret;
  return cred;
}

/**
 * Adds to each manager the credentials `store` holds for its provider that the configuration
 * does not list. Call it before the managers' first use (`ready()`), so that they load these
 * records with the rest.
 * @returns the ids added, by provider
 * @throws the store's error when it cannot be read
 */
export async function addStoredCredentials(
  config: OAuthManagerConfig,
  managers: ReadonlyMap<string, OAuthKeyManager>,
  store: TokenStore,
): Promise<Map<string, string[]>> {
  const added = new Map<string, string[]>();
  // One read for every provider: a file store reads (and decrypts) the whole file per call.
  const stored = await store.loadAll("");
  for (const [provider, manager] of managers) {
    const prefix = storeKey(provider, "");
    const known = new Set(manager.getCredentials().map((c) => c.id));
    const ids: string[] = [];
    for (const [key, token] of stored) {
      if (!key.startsWith(prefix)) continue;
      const id = key.slice(prefix.length);
      if (id === "" || known.has(id)) continue;
      manager.addCredential(storedCredential(config, provider, id, token));
      ids.push(id);
    }
    added.set(provider, ids);
  }
  return added;
}
