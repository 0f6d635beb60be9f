/**
 * A replica dies mid-refresh, holding the Redis lock: its lease must run out so that another
 * replica can refresh, and no request of the surviving replica fails. The token endpoint holds
 * the first refresh request (the one the doomed replica sent) and never answers it, so the
 * refresh token is still unspent when the survivor presents it.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Child, startChild } from "./fixtures/store-child.js";
import { closeServer } from "./support/close-server.js";
import { deleteKeys, type TestRedis, testRedis, uniquePrefix } from "./support/redis.js";

/** Short, so the test does not wait long for the dead holder's lease to run out. */
const LOCK_LEASE_MS = 1_000;
const SURVIVOR_REQUESTS = 200;

let redis: TestRedis;
const prefix = uniquePrefix();
const children = new Set<Child>();

/** A token endpoint that holds its first request forever and answers the others. */
interface HoldingEndpoint {
  url: string;
  /** The refresh tokens presented, in order of arrival. */
  presented: string[];
  /** Resolves when the first request has arrived (and is being held). */
  firstArrived: Promise<void>;
  close(): Promise<void>;
}

async function startHoldingEndpoint(): Promise<HoldingEndpoint> {
  const presented: string[] = [];
  // The held request never spends it.
  let valid = "rt-0";
  let arrived!: () => void;
  const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
  const server: Server = createServer(async (req, res) => {
    const form = new URLSearchParams(await body(req));
    const token = form.get("refresh_token") ?? "";
    presented.push(token);
    if (presented.length === 1) {
      arrived();
      return;
    }
    // Rotating: a refresh token answered once is spent, and its reuse is refused.
    if (token !== valid) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "invalid_grant" }));
      return;
    }
    valid = "rt-1";
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ access_token: "at-1", refresh_token: "rt-1", expires_in: 3600 }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
    presented,
    firstArrived,
    close: () => closeServer(server),
  };
}

async function body(req: IncomingMessage): Promise<string> {
  let data = "";
  for await (const chunk of req) data += chunk;
  return data;
}

let endpoint: HoldingEndpoint;

beforeAll(async () => {
  redis = await testRedis();
  endpoint = await startHoldingEndpoint();
});

afterAll(async () => {
  for (const c of children) c.process.kill("SIGKILL");
  await Promise.all([...children].map((c) => c.exited));
  await endpoint.close();
  await deleteKeys(redis.url, prefix);
  await redis.stop();
});

function replica(requests: number): Child {
  const child = startChild("redis-manager-process.ts", [
    redis.url,
    prefix,
    endpoint.url,
    String(requests),
    String(LOCK_LEASE_MS),
  ]);
  children.add(child);
  return child;
}

describe("a replica SIGKILLed while it refreshes under the Redis lock", () => {
  it("another replica refreshes once the lease has run out, and none of its requests fails", async () => {
    const doomed = replica(1);
    const survivor = replica(SURVIVOR_REQUESTS);
    await Promise.all([doomed, survivor].map((c) => c.waitForLine((l) => l === "ready")));

    doomed.process.stdin?.write("go\n");
    await endpoint.firstArrived;
    survivor.process.stdin?.write("go\n");
    await survivor.waitForLine((l) => l === "started");

    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    client.on("error", () => {});
    try {
      // The doomed replica holds the lock: the survivor can only get it once the lease runs out.
      expect(await client.exists(`${prefix}lock:qwen/shared`)).toBe(1);
      doomed.process.kill("SIGKILL");
      expect((await doomed.exited).signal).toBe("SIGKILL");
      children.delete(doomed);

      const line = await survivor.waitForLine((l) => l.startsWith("{"));
      const { code } = await survivor.exited;
      children.delete(survivor);
      expect(code, survivor.stderr()).toBe(0);
      const result = JSON.parse(line) as {
        failed: number;
        tokens: string[];
        errors: string[];
        storedAccessToken: string;
      };
      expect(result.errors).toEqual([]);
      expect(result.failed).toBe(0);
      expect(result.tokens).toEqual(["at-1"]);
      expect(result.storedAccessToken).toBe("at-1");
      // The held call and the survivor's one refresh: nobody refreshed beside the holder.
      expect(endpoint.presented).toEqual(["rt-0", "rt-0"]);
      expect((await client.hget(`${prefix}token:qwen/shared`, "data")) ?? "").toContain("rt-1");
    } finally {
      client.disconnect();
    }
  }, 30_000);
});
