/**
 * Section 7: `executeWithFailover` with a `RedisTokenStore` in the steady state (fresh tokens)
 * against the same pool with no store, timed in one round; and the Redis commands the store's
 * connection sends during those calls, counted at ioredis's `sendCommand` (single commands,
 * scripts and pipelines all go through it). Both figures say whether the hot path stays local.
 * @module
 */
import { createConnection } from "node:net";
import { Redis } from "ioredis";
import { OAuthKeyManager } from "oauthmanager";
import { RedisTokenStore } from "oauthmanager/redis";
import { subscribed } from "../test/support/redis.js";
import { freshCredentials, op } from "./fixtures.js";
import { type MeasureOptions, measure, type Timing } from "./timing.js";

/** Where sections 7 and 8 look for a Redis: REDIS_URL, else the default local one. */
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export interface RedisFigures {
  url: string;
  memory: Timing;
  redis: Timing;
  /** Sequential executeWithFailover calls during which commands were counted. */
  countedCalls: number;
  /** Redis commands sent during those calls (0 when the hot path stays local). */
  commands: number;
}

/** True when something at `url` answers PING like a Redis, within a second. */
export function answersPing(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      // A Redis that wants a password answers -NOAUTH: it is there.
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG") || reply.includes("NOAUTH"));
    });
  });
}

/**
 * Section 7, or undefined when no Redis answers at {@link REDIS_URL}.
 * @param countedCalls executeWithFailover calls during which Redis commands are counted
 */
export async function measureRedisStore(
  options: MeasureOptions,
  countedCalls: number,
): Promise<RedisFigures | undefined> {
  if (!(await answersPing(REDIS_URL))) return undefined;
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: 5_000 });
  client.on("error", () => {});
  let commands = 0;
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((...args: Parameters<Redis["sendCommand"]>) => {
    commands++;
    return send(...args);
  }) as Redis["sendCommand"];
  // A prefix of this run's own, deleted at the end: the benchmark may share a Redis.
  const prefix = `oauthmanager-bench:${process.pid}:${Date.now()}:`;
  const store = new RedisTokenStore({ client, prefix });
  // The subscription (its own connection) up before the manager watches: the re-read it makes
  // when it comes up is then behind us, and the next one resyncIntervalMs (30 s) away.
  await subscribed(store);
  const memory = new OAuthKeyManager("bench", freshCredentials(3));
  const redis = new OAuthKeyManager("bench", freshCredentials(3), undefined, { store });
  try {
    await redis.ready();
    // The first write of each credential runs in the background under its lock: wait until all
    // three are stored and no lock is held, so that only the requests' own commands are counted.
    const ids = freshCredentials(3).map((c) => c.id);
    for (let tries = 0; tries < 500; tries++) {
      const stored = await client.exists(...ids.map((id) => `${prefix}token:bench/${id}`));
      const locked = await client.exists(...ids.map((id) => `${prefix}lock:bench/${id}`));
      if (stored === ids.length && locked === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    commands = 0;
    for (let i = 0; i < countedCalls; i++) await redis.executeWithFailover(op);
    const sent = commands;
    const t = await measure(
      {
        memory: () => memory.executeWithFailover(op),
        redis: () => redis.executeWithFailover(op),
      },
      options,
    );
    return {
      url: redactUrl(REDIS_URL),
      memory: t.get("memory")!,
      redis: t.get("redis")!,
      countedCalls,
      commands: sent,
    };
  } finally {
    await Promise.all([memory.close(), redis.close()]);
    await store.close();
    const keys = await client.keys(`${prefix}*`).catch(() => []);
    if (keys.length > 0) await client.del(...keys).catch(() => {});
    client.disconnect();
  }
}

/** The URL without its password, for the printout. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.href;
}
