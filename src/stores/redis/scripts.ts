/**
 * The Lua scripts of `RedisTokenStore`. Each runs atomically on the server, so a version check and
 * the write it guards can never be split by another client's write.
 *
 * Layout under the store's prefix `P`:
 * - `P token:<key>`: a hash, `v` the version (an integer) and `data` the token as JSON;
 * - `P index`: a sorted set of every stored key (all scores 0), for prefix listings by range
 *   instead of a SCAN over the whole database;
 * - `P lock:<key>`: the lock, a string holding its owner's random value, with an expiry;
 * - `P health:<key>`: a hash of health marks, field `<kind>` or `<kind>@<scope>`, each the time
 *   (Redis's clock, epoch ms) the mark runs out; the hash expires with its last mark;
 * - the channel `P changes`: every save, delete, release and health mark is announced there as
 *   JSON, `o` naming the store that made it so a store can skip its own.
 * @module
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A script and its SHA-1, so the usual call sends the hash rather than the source. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/** Reads `v` of the hash at KEYS[1] as a number; 0 when absent. Errors on a corrupt version. */
const READ_VERSION = `
local raw = redis.call('HGET', KEYS[1], 'v')
local current = 0
if raw then
  current = tonumber(raw)
  if not current then return redis.error_reply('ERR stored version is not a number') end
end`;

/**
 * KEYS: token, index, lock, health. ARGV: data, key, owner ('' for an unfenced save), expected
 * version, channel, origin. Returns the new version, or -1 when refused: a fenced save whose lock
 * has passed to another owner and whose key was written since the lock was taken. Refusing only
 * when both hold keeps a holder whose lease merely expired, with nobody else writing, from losing
 * a rotated token. A new token ends a mark that the credential needs re-authentication.
 */
export const SAVE = script(`${READ_VERSION}
if ARGV[3] ~= '' and current ~= tonumber(ARGV[4]) and redis.call('GET', KEYS[3]) ~= ARGV[3] then
  return -1
end
redis.call('HSET', KEYS[1], 'v', current + 1, 'data', ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HDEL', KEYS[4], 'needs_reauth')
redis.call('PUBLISH', ARGV[5], cjson.encode({t = 'saved', k = ARGV[2], v = current + 1, o = ARGV[6]}))
return current + 1`);

/** KEYS: token, index, health. ARGV: key, channel, origin. */
export const DELETE = script(`
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], cjson.encode({t = 'deleted', k = ARGV[1], o = ARGV[3]}))
return 1`);

/**
 * KEYS: health. ARGV: key, kind, scope ('' for none), remaining ms, channel, origin. Keeps the
 * later of the stored and the new end (a shorter mark never shortens a longer one), by Redis's
 * clock; announces the mark only when it changed anything. Returns 1 when stored, 0 when not.
 */
export const SAVE_HEALTH = script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[4])
local field = ARGV[2]
if ARGV[3] ~= '' then field = field .. '@' .. ARGV[3] end
local untilMs = now + ms
local stored = tonumber(redis.call('HGET', KEYS[1], field))
if stored and stored >= untilMs then return 0 end
redis.call('HSET', KEYS[1], field, untilMs)
local expires = redis.call('PEXPIRETIME', KEYS[1])
if expires < untilMs then redis.call('PEXPIREAT', KEYS[1], untilMs) end
local message = {t = 'health', k = ARGV[1], kind = ARGV[2], ms = ms, o = ARGV[6]}
if ARGV[3] ~= '' then message.s = ARGV[3] end
redis.call('PUBLISH', ARGV[5], cjson.encode(message))
return 1`);

/**
 * KEYS: lock, token. ARGV: owner, lease ms. Returns the token's version when the lock was taken
 * (the fencing reference for later saves), -1 when another owner holds it.
 */
export const ACQUIRE = script(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local raw = redis.call('HGET', KEYS[2], 'v')
  if raw then return tonumber(raw) or 0 end
  return 0
end
return -1`);

/** KEYS: lock. ARGV: owner, lease ms. 1 when extended, 0 when the lock is no longer ours. */
export const EXTEND = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`);

/**
 * KEYS: lock. ARGV: owner, channel, key, origin. Deletes the lock only for its owner, never a
 * successor's, and announces it, so a waiter tries again at once rather than at its next poll.
 */
export const RELEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], cjson.encode({t = 'released', k = ARGV[3], o = ARGV[4]}))
  return 1
end
return 0`);

/**
 * Runs `s` by its hash, loading the source once when the server does not know it yet (after a
 * restart or a SCRIPT FLUSH). Works on any client, without adding commands to it.
 */
export async function runScript(
  client: Redis,
  s: Script,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
    return client.eval(s.source, keys.length, ...keys, ...args);
  }
}
