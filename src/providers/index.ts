/**
 * `oauthmanager/providers`: token refresh for OAuth 2.0 servers and AI providers.
 * @module
 */
export {
  DEFAULT_TOKEN_TIMEOUT_MS,
  MAX_TOKEN_RESPONSE_BYTES,
  type OAuth2RefreshOptions,
  oauth2Refresh,
} from "./oauth2.js";
