/**
 * The hot path stays local: with a fresh token, executeWithFailover on a manager backed by a
 * RedisTokenStore serves from memory and sends Redis nothing. Every command the store's
 * connection sends is counted at ioredis's `sendCommand`, which single commands, scripts and
 * pipelines all go through.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { RedisTokenStore } from "../src/stores/redis/index.js";
import {
  deleteKeys,
  subscribed,
  type TestRedis,
  testRedis,
  uniquePrefix,
} from "./support/redis.js";

const CALLS = 1_000;
const HOUR = 3_600_000;

let redis: TestRedis;
const prefix = uniquePrefix();

beforeAll(async () => {
  redis = await testRedis();
});

afterAll(async () => {
  await deleteKeys(redis.url, prefix);
  await redis.stop();
});

/** Counts the commands `client` sends from now on. */
function countCommands(client: Redis): { readonly sent: string[] } {
  const sent: string[] = [];
  const original = client.sendCommand.bind(client);
  client.sendCommand = ((command, ...rest) => {
    sent.push(command.name);
    return original(command, ...rest);
  }) as Redis["sendCommand"];
  return { sent };
}

describe("a manager on a RedisTokenStore, token fresh", () => {
  it(`${CALLS} executeWithFailover calls send Redis no command`, async () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1, commandTimeout: 5_000 });
    client.on("error", () => {});
    const commands = countCommands(client);
    const store = new RedisTokenStore({ client, prefix });
    // The subscription up before the manager watches: the re-read it makes when it comes up
    // (through this client) is then behind us, and the next one is resyncIntervalMs away.
    await subscribed(store);
    const manager = new OAuthKeyManager(
      "P",
      [
        {
          id: "a",
          accessToken: "at-a",
          refreshToken: "rt-a",
          expiresAt: new Date(Date.now() + HOUR),
        },
        {
          id: "b",
          accessToken: "at-b",
          refreshToken: "rt-b",
          expiresAt: new Date(Date.now() + HOUR),
        },
      ],
      async () => {
        throw new Error("no refresh expected");
      },
      { store },
    );
    try {
      await manager.ready();
      // The first load and the first saves went through the counter: it sees this client.
      expect(commands.sent.length).toBeGreaterThan(0);
      // The first writes of the credentials run in the background, each under its lock: wait,
      // through another connection, until both are stored and no lock is held, then count.
      const observer = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      observer.on("error", () => {});
      try {
        await vi.waitFor(
          async () => {
            const stored = await observer.exists(`${prefix}token:P/a`, `${prefix}token:P/b`);
            const locks = await observer.exists(`${prefix}lock:P/a`, `${prefix}lock:P/b`);
            if (stored !== 2 || locks !== 0) throw new Error("first writes still under way");
          },
          { timeout: 10_000, interval: 20 },
        );
      } finally {
        observer.disconnect();
      }
      await client.ping();
      commands.sent.length = 0;

      let ok = 0;
      for (let i = 0; i < CALLS; i++) {
        const { result } = await manager.executeWithFailover(async (cred) => ({
          result: cred.accessToken,
        }));
        if (result.startsWith("at-")) ok++;
      }

      expect(ok).toBe(CALLS);
      expect(commands.sent).toEqual([]);
    } finally {
      await manager.close();
      await store.close();
      client.disconnect();
    }
  });
});
