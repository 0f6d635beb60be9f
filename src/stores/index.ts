/**
 * `oauthmanager/stores`: where refreshed tokens and rotation state outlive the process.
 * @module
 */
export { ENCRYPTION_KEY_ENV } from "./crypto.js";
export { FileTokenStore, type FileTokenStoreOptions } from "./file-store.js";
export { DEFAULT_LOCK_TIMEOUT_MS, MemoryTokenStore } from "./memory-store.js";
export {
  type HealthMark,
  type HealthMarkKind,
  type SharedStateStore,
  type StoreChange,
  sharesState,
} from "./shared-state.js";
export type {
  LockOptions,
  StoredRotation,
  StoredToken,
  StoredUsage,
  TokenStore,
} from "./types.js";
