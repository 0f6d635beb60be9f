/**
 * `oauthmanager/config`: read a YAML configuration and build one manager per provider.
 * @module
 */
export { type CreateManagersOptions, createManagers } from "./create-managers.js";
export { createStore } from "./create-store.js";
export {
  formatDuration,
  MAX_DURATION_MS,
  MAX_LONG_DURATION_MS,
  parseDuration,
} from "./duration.js";
export { loadConfig, parseConfig } from "./parse.js";
export { addStoredCredentials } from "./stored-credentials.js";
export type {
  AuthScheme,
  LoginConfig,
  OAuthManagerConfig,
  ProviderConfig,
  RefreshPresetName,
  ServerConfig,
  StoreConfig,
} from "./types.js";
