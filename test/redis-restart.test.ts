/**
 * Redis going away must not take the application down. A `redis-server` of the test's own, on a
 * free port, is killed and started again on the same port: requests with a fresh token keep
 * being served from memory all along, the store's calls fail as StoreError while it is down (a
 * refresh then goes on without the lock, reported and counted), and once it is back a refresh is
 * stored again. With two replicas, an emptied Redis is seeded again from their memory; when both
 * refreshed while it was down, the newer token is the one stored and taken by both.
 */
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { StoreError } from "../src/errors.js";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { RedisTokenStore } from "../src/stores/redis/index.js";
import type { OAuthCredentialSet } from "../src/types.js";
import { freePort, startRedisServer, stopRedisServer } from "./support/redis.js";

const HOUR = 3_600_000;
const REQUESTS = 200;
const quiet = { warn() {}, error() {} };

let port: number;
let server: ChildProcess | undefined;

beforeAll(async () => {
  port = await freePort();
  server = await startRedisServer(port);
});

afterAll(async () => {
  if (server) await stopRedisServer(server);
});

/** `REQUESTS` sequential requests; resolves with the tokens they ran with. */
async function serve(manager: OAuthKeyManager): Promise<Set<string>> {
  const used = new Set<string>();
  for (let i = 0; i < REQUESTS; i++) {
    const { result } = await manager.executeWithFailover(async (cred) => ({
      result: cred.accessToken,
    }));
    used.add(result);
  }
  return used;
}

/** The store's first call that succeeds, once its connection is back. */
async function loadOnceBack(store: RedisTokenStore, key: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await store.load(key);
    } catch (err) {
      // Each failed call took up to the command timeout: this loop does not spin.
      if (Date.now() > deadline) throw err;
    }
  }
}

interface Replica {
  store: RedisTokenStore;
  manager: OAuthKeyManager;
  /** Who refreshed, in order. */
  refreshes: string[];
}

/**
 * A manager on a store of its own under `prefix`, holding credential `a` (`at-0`, `rt-0`). Its
 * refreshes give `at-<name>-<n>` (`at-<n>` without a name) and rotate the refresh token alike.
 */
function replica(prefix: string, name = ""): Replica {
  const store = new RedisTokenStore({
    url: `redis://127.0.0.1:${port}`,
    prefix,
    commandTimeoutMs: 500,
    lockLeaseMs: 1_000,
  });
  const refreshes: string[] = [];
  const manager = new OAuthKeyManager(
    "P",
    [
      {
        id: "a",
        accessToken: "at-0",
        refreshToken: "rt-0",
        expiresAt: new Date(Date.now() + HOUR),
      },
    ],
    async (cred: Readonly<OAuthCredentialSet>) => {
      refreshes.push(name);
      const tag = name ? `${name}-${refreshes.length}` : String(refreshes.length);
      return {
        ...cred,
        accessToken: `at-${tag}`,
        refreshToken: `rt-${tag}`,
        expiresAt: new Date(Date.now() + HOUR),
      };
    },
    { store, logger: quiet },
  );
  return { store, manager, refreshes };
}

describe("a RedisTokenStore whose Redis is killed and restarted", () => {
  it("keeps serving from memory while Redis is down, and stores refreshes again once it is back", async () => {
    const { store, manager } = replica("restart-test:");
    const storeErrors: string[] = [];
    manager.on("store_error", (e) => storeErrors.push(e.operation));
    try {
      await manager.ready();
      // The first save is not awaited by ready(): wait for it to land.
      await vi.waitFor(async () => expect((await store.load("P/a"))?.accessToken).toBe("at-0"));
      expect(await serve(manager)).toEqual(new Set(["at-0"]));

      await stopRedisServer(server!);
      server = undefined;

      // Down: requests are served from memory, store calls fail as StoreError.
      expect(await serve(manager)).toEqual(new Set(["at-0"]));
      await expect(store.load("P/a")).rejects.toBeInstanceOf(StoreError);
      await expect(store.withLock("P/a", async () => 1)).rejects.toBeInstanceOf(StoreError);
      // A refresh that must happen goes on without the lock: reported and counted.
      expect((await manager.refreshCredential("a", { force: true })).accessToken).toBe("at-1");
      expect(storeErrors).toContain("lock");
      expect(storeErrors).toContain("save");
      expect(await manager.exportPrometheusText()).toContain(
        'oauthmanager_unlocked_refreshes_total{provider="P"} 1',
      );
      expect(await serve(manager)).toEqual(new Set(["at-1"]));

      server = await startRedisServer(port);

      // Back (empty: it keeps nothing on disk). Requests went on throughout, and a refresh,
      // under the lock again, is stored.
      await loadOnceBack(store, "P/a");
      expect(await serve(manager)).toEqual(new Set(["at-1"]));
      expect((await manager.refreshCredential("a", { force: true })).accessToken).toBe("at-2");
      expect((await store.load("P/a"))?.accessToken).toBe("at-2");
      expect(await manager.exportPrometheusText()).toContain(
        'oauthmanager_unlocked_refreshes_total{provider="P"} 1',
      );
      expect(await serve(manager)).toEqual(new Set(["at-2"]));
    } finally {
      await manager.close();
      await store.close();
    }
  }, 60_000);

  it("two replicas: requests go on throughout, no connection error escapes, and after an empty restart Redis is seeded again, with the newer token, which both end up with", async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on("unhandledRejection", onRejection);
    const a = replica("restart-test-2:", "A");
    const b = replica("restart-test-2:", "B");
    const replicas = [a, b];
    const token = (r: Replica) => r.manager.getCredentials()[0]?.accessToken;
    try {
      if (!server) server = await startRedisServer(port);
      await Promise.all(replicas.map((r) => r.manager.ready()));
      await vi.waitFor(async () => expect((await a.store.load("P/a"))?.accessToken).toBe("at-0"));

      // Restarted empty with nothing changed meanwhile: the replicas seed it again.
      await stopRedisServer(server!);
      server = await startRedisServer(port);
      await vi.waitFor(
        async () => expect((await loadOnceBack(a.store, "P/a"))?.accessToken).toBe("at-0"),
        { timeout: 20_000, interval: 50 },
      );

      await stopRedisServer(server!);
      server = undefined;

      // Down: both serve from memory; each must refresh and does so without the lock, A first.
      for (const r of replicas) expect(await serve(r.manager)).toEqual(new Set(["at-0"]));
      expect((await a.manager.refreshCredential("a", { force: true })).accessToken).toBe("at-A-1");
      expect((await b.manager.refreshCredential("a", { force: true })).accessToken).toBe("at-B-1");
      expect(await serve(a.manager)).toEqual(new Set(["at-A-1"]));
      expect(await serve(b.manager)).toEqual(new Set(["at-B-1"]));

      server = await startRedisServer(port);

      // Back and empty: the newer token (B's) is what Redis ends up with and what A takes,
      // whichever replica writes first; requests go on meanwhile.
      await vi.waitFor(
        async () => {
          expect(await serve(a.manager)).toHaveProperty("size", 1);
          expect((await loadOnceBack(a.store, "P/a"))?.accessToken).toBe("at-B-1");
          expect(token(a)).toBe("at-B-1");
        },
        { timeout: 20_000, interval: 50 },
      );
      expect(token(b)).toBe("at-B-1");
      expect(a.refreshes).toEqual(["A"]);
      expect(b.refreshes).toEqual(["B"]);
      expect(rejections).toEqual([]);
    } finally {
      process.off("unhandledRejection", onRejection);
      for (const r of replicas) {
        await r.manager.close();
        await r.store.close();
      }
    }
  }, 60_000);
});
