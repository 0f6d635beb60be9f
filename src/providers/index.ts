/**
 * `oauthmanager/providers`: what it takes to use a pool with a real AI provider.
 * @module
 */
export { type AuthStyle, authHeaders } from "./auth.js";
export { type PooledFetchOptions, pooledFetch } from "./pooled-fetch.js";
