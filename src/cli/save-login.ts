/**
 * Putting a login into the configuration's store, where the pool picks it up: `import` and
 * `login` both end here. The same account saved again updates its record.
 * @module
 */

import { createStore } from "../config/create-store.js";
import type { OAuthManagerConfig } from "../config/types.js";
import { storeKey, toStored } from "../persistence/stored-token.js";
import type { OAuthCredentialSet } from "../types.js";
import { pick } from "./pick.js";

/** Credential ids as the configuration accepts them. */
const ID = /^[^\p{Cc}]{1,200}$/u;

/** A login cannot be saved where it was asked to go: one line, exit code 1. */
export class LoginTargetError extends Error {
  override name = "LoginTargetError";
}

/**
 * Checks that `provider` is configured and that the configuration has a store that outlives
 * this command.
 * @throws {UnknownNameError | LoginTargetError}
 */
export function checkTarget(config: OAuthManagerConfig, provider: string, path: string): void {
  pick("provider", provider, Object.keys(config.providers), path);
  const store = config.store;
  if (store === undefined || store.type === "memory") {
    throw new LoginTargetError(
      `${path} has ${store ? "a memory store, which keeps nothing after this command" : "no store"}: add a file or redis store (store: { type: file, path: tokens.json }) to keep logins`,
    );
  }
}

/**
 * Checks a credential id given with `--id`.
 * @throws {LoginTargetError}
 */
export function checkId(id: string, config: OAuthManagerConfig, provider: string): string {
  if (!ID.test(id)) {
    throw new LoginTargetError("--id must be 1 to 200 characters, without control characters");
  }
  const listed = config.providers[provider]?.oauthCredentials.some((c) => c.id === id);
  if (listed) {
    throw new LoginTargetError(
      `credential ${provider}/${id} is listed in the configuration file; give another --id`,
    );
  }
  return id;
}

/**
 * Saves `cred` as `<provider>/<id>` in the configuration's store (opened for this and closed
 * again), under the store's lock, keeping a stored rotation state.
 * @returns whether a record was there before (the same account: updated, not duplicated)
 */
export async function saveLogin(
  config: OAuthManagerConfig,
  provider: string,
  cred: OAuthCredentialSet,
): Promise<{ updated: boolean }> {
  const store = createStore(config.store);
  if (!store) throw new Error("no store");
  const key = storeKey(provider, cred.id);
  try {
    return await store.withLock(key, async () => {
      const before = await store.load(key);
      const record = toStored(cred, undefined);
      if (before?.rotation) record.rotation = before.rotation;
      await store.save(key, record);
      return { updated: before !== undefined };
    });
  } finally {
    await store.close();
  }
}
