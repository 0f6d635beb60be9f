/**
 * `oauthmanager/providers`: what it takes to use a pool with a real AI provider — token refresh
 * for any OAuth 2.0 server and presets for Gemini, Qwen, Anthropic and OpenAI, importers of the
 * logins their CLIs leave behind, and a `fetch` that puts the official SDKs on the pool.
 * @module
 */
export { type AuthStyle, authHeaders } from "./auth.js";
export { defaultCredentialsPath, type ImportKind, importCredentials } from "./import.js";
export {
  DEFAULT_TOKEN_TIMEOUT_MS,
  MAX_TOKEN_RESPONSE_BYTES,
  type OAuth2RefreshOptions,
  oauth2Refresh,
} from "./oauth2.js";
export { type PooledFetchOptions, pooledFetch } from "./pooled-fetch.js";
export {
  anthropicRefresh,
  geminiRefresh,
  openaiRefresh,
  type PresetOptions,
  presetRefresh,
  qwenRefresh,
} from "./presets.js";
