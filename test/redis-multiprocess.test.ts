/**
 * Replicas sharing one pool through Redis: separate Node processes, each with its own
 * OAuthKeyManager on a RedisTokenStore, find the same credential expired at the same moment.
 * The Redis lock lets one of them refresh; the others wait for it and take its token from the
 * store, so a refresh token that rotates and refuses reuse is spent exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Child, startChild } from "./fixtures/store-child.js";
import { deleteKeys, type TestRedis, testRedis, uniquePrefix } from "./support/redis.js";
import { startTokenServer, type TokenServer } from "./support/token-server.js";

const PROCESSES = 4;
const REQUESTS = 500;

let redis: TestRedis;
let tokens: TokenServer;
const prefix = uniquePrefix();
const children = new Set<Child>();

beforeAll(async () => {
  redis = await testRedis();
  tokens = await startTokenServer({ rotate: true, delayMs: 50 });
  tokens.allow("rt-0");
});

afterAll(async () => {
  for (const c of children) c.process.kill("SIGKILL");
  await Promise.all([...children].map((c) => c.exited));
  await tokens.close();
  await deleteKeys(redis.url, prefix);
  await redis.stop();
});

describe("OAuthKeyManager replicas on one RedisTokenStore", () => {
  it(`${PROCESSES} processes x ${REQUESTS} concurrent requests on an expired credential: 1 refresh call, 0 failures, one token everywhere`, async () => {
    const replicas = Array.from({ length: PROCESSES }, () => {
      const child = startChild("redis-manager-process.ts", [
        redis.url,
        prefix,
        tokens.url,
        String(REQUESTS),
      ]);
      children.add(child);
      return child;
    });
    await Promise.all(replicas.map((c) => c.waitForLine((l) => l === "ready")));
    for (const c of replicas) c.process.stdin?.write("go\n");

    const results = [];
    for (const c of replicas) {
      const line = await c.waitForLine((l) => l.startsWith("{"));
      const { code } = await c.exited;
      children.delete(c);
      expect(code, c.stderr()).toBe(0);
      results.push(
        JSON.parse(line) as {
          failed: number;
          tokens: string[];
          errors: string[];
          storedAccessToken: string;
        },
      );
    }

    expect(tokens.calls).toBe(1);
    expect(tokens.unexpected).toEqual([]);
    for (const r of results) {
      expect(r.failed, r.errors.join("\n")).toBe(0);
      expect(r.tokens).toEqual(["at-1"]);
      expect(r.storedAccessToken).toBe("at-1");
    }
  }, 60_000);
});
