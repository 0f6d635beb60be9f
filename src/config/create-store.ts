/**
 * `createStore`: the token store a configuration's `store` section names.
 * @module
 */
import { ConfigError } from "../errors.js";
import { FileTokenStore } from "../stores/file-store.js";
import { MemoryTokenStore } from "../stores/memory-store.js";
import type { TokenStore } from "../stores/types.js";
import type { StoreConfig } from "./types.js";

/**
 * Builds the store a configuration names: `memory` or `file`. Pass it to `createManagers` and
 * close it yourself after the managers (`manager.close()` never closes a store it was given).
 * Returns undefined without a `store` section.
 * @throws {ConfigError} for `redis`, which lives in `oauthmanager/redis` (not available yet)
 * @throws {ConfigError} for a file store's invalid encryption key
 */
export function createStore(config: StoreConfig | undefined): TokenStore | undefined {
  if (!config) return undefined;
  switch (config.type) {
    case "memory":
      return new MemoryTokenStore();
    case "file":
      return new FileTokenStore(
        config.encryptionKey === undefined
          ? { path: config.path }
          : { path: config.path, encryptionKey: config.encryptionKey },
      );
    case "redis":
      throw new ConfigError([
        {
          path: "store.type",
          message: "redis needs oauthmanager/redis, which is not available yet",
        },
      ]);
  }
}
