/**
 * `oauthmanager/redis`: a token store in Redis, shared by every process and host of a fleet.
 * Needs the `ioredis` package (5.x), which only this entry point loads.
 * @module
 */
export {
  DEFAULT_REDIS_PREFIX,
  DEFAULT_REDIS_URL,
  RedisTokenStore,
  type RedisTokenStoreOptions,
} from "./redis-store.js";
