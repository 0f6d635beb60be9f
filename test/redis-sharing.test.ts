/**
 * Replicas sharing one pool through Redis, two managers in one process on two connections: a
 * waiter for the lock is woken by the holder's release, a refresh, an added or removed credential
 * and a rotation reach the other replica through one announcement, a change whose announcement
 * was lost is read at the next resync, and cooldowns and dead grants hold on both.
 */
import { Redis } from "ioredis";
import { describe, expect, it, vi } from "vitest";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { MemoryTokenStore } from "../src/stores/memory-store.js";
import { RedisTokenStore, type RedisTokenStoreOptions } from "../src/stores/redis/index.js";
import { sharesState } from "../src/stores/shared-state.js";
import { deferred } from "../src/stores/test-support/token-store-contract.js";
import type { OAuthCredentialSet, RefreshFunc } from "../src/types.js";
import { subscribed } from "./support/redis.js";
import { redisPerTest } from "./support/redis-per-test.js";
import { runFixture } from "./support/run-fixture.js";

const HOUR = 3_600_000;
const quiet = { warn() {}, error() {} };

const env = redisPerTest();
const { freshPrefix, onCleanup } = env;

function openStore(prefix: string, options: RedisTokenStoreOptions = {}): RedisTokenStore {
  const store = new RedisTokenStore({ url: env.redis.url, prefix, ...options });
  onCleanup(() => store.close());
  return store;
}

function cred(id: string, over: Partial<OAuthCredentialSet> = {}): OAuthCredentialSet {
  return {
    id,
    accessToken: `at-${id}-0`,
    refreshToken: `rt-${id}-0`,
    expiresAt: new Date(Date.now() + HOUR),
    ...over,
  };
}

interface Replica {
  manager: OAuthKeyManager;
  store: RedisTokenStore;
  refreshes: string[];
}

/** A replica: its own store (connection) on `prefix`, and a manager loaded from it. */
async function replica(
  prefix: string,
  creds: OAuthCredentialSet[],
  refresh?: RefreshFunc,
  storeOptions: RedisTokenStoreOptions = {},
): Promise<Replica> {
  const store = openStore(prefix, storeOptions);
  // Announcements heard before the manager starts, so none of the test's is missed.
  await subscribed(store);
  const refreshes: string[] = [];
  const manager = new OAuthKeyManager(
    "P",
    creds,
    async (c, signal) => {
      refreshes.push(c.id);
      if (refresh) return refresh(c, signal);
      return {
        ...c,
        accessToken: `${c.accessToken}+`,
        refreshToken: `${c.refreshToken}+`,
        expiresAt: new Date(Date.now() + HOUR),
      };
    },
    { store, logger: quiet },
  );
  onCleanup(() => manager.close());
  await manager.ready();
  return { manager, store, refreshes };
}

function tokenOf(r: Replica, id: string): string | undefined {
  return r.manager.getCredentials().find((c) => c.id === id)?.accessToken;
}

/** Waits until both replicas' first writes are in Redis, so later saves are what is tested. */
async function stored(store: RedisTokenStore, key: string, accessToken: string): Promise<void> {
  await vi.waitFor(async () => expect((await store.load(key))?.accessToken).toBe(accessToken), {
    timeout: 10_000,
    interval: 20,
  });
}

describe("sharing is a capability of the Redis store only", () => {
  it("a memory store does not share; a Redis store does", () => {
    expect(sharesState(new MemoryTokenStore())).toBe(false);
    expect(sharesState(openStore(freshPrefix()))).toBe(true);
  });
});

/**
 * A store on a client of its own that polls for a held lock only every 10 minutes, listening;
 * `refused` resolves when one of its tries for a lock has found it held.
 */
async function slowPoller(
  prefix: string,
): Promise<{ waiter: RedisTokenStore; refused: Promise<void> }> {
  const client = new Redis(env.redis.url, { maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  onCleanup(() => client.disconnect());
  const refused = deferred();
  const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
  client.evalsha = (async (...args: unknown[]) => {
    const reply = await evalsha(...args);
    if (reply === -1) refused.resolve();
    return reply;
  }) as typeof client.evalsha;
  const waiter = new RedisTokenStore({ client, prefix, lockRetryMs: 600_000 });
  onCleanup(() => waiter.close());
  await subscribed(waiter);
  return { waiter, refused: refused.promise };
}

/** Lock `P/a` held by one store (until `letGo`), and a slow poller about to wait for it. */
async function contended() {
  const prefix = freshPrefix();
  const holder = openStore(prefix);
  const { waiter, refused } = await slowPoller(prefix);
  const letGo = deferred();
  const entered = deferred();
  const held = holder.withLock("P/a", async () => {
    entered.resolve();
    await letGo.promise;
  });
  await entered.promise;
  return { waiter, refused, letGo, held };
}

describe("a lock waiter is woken by the release", () => {
  it("with polling made too slow to matter, the waiter gets the lock as soon as the holder lets go", async () => {
    const { waiter, refused, letGo, held } = await contended();
    const waited = waiter.withLock("P/a", async () => "mine", { timeoutMs: 300_000 });
    await refused;
    letGo.resolve();
    await held;
    // Without the announcement the next try would be minutes away.
    await expect(waited).resolves.toBe("mine");
  }, 15_000);

  it("a waiter whose signal aborts stops waiting at once, with the signal's reason", async () => {
    const { waiter, refused, letGo, held } = await contended();
    const controller = new AbortController();
    const waited = waiter.withLock("P/a", async () => "mine", {
      timeoutMs: 300_000,
      signal: controller.signal,
    });
    await refused;
    const reason = new Error("caller gave up");
    controller.abort(reason);
    await expect(waited).rejects.toBe(reason);
    letGo.resolve();
    await held;
  }, 15_000);
});

describe("propagation between replicas", () => {
  it("a refresh on one replica reaches the other without a refresh there", async () => {
    const prefix = freshPrefix();
    const a = await replica(prefix, [cred("x")]);
    const b = await replica(prefix, [cred("x")]);
    await stored(a.store, "P/x", "at-x-0");

    await a.manager.refreshCredential("x", { force: true });
    await vi.waitFor(() => expect(tokenOf(b, "x")).toBe("at-x-0+"), { timeout: 10_000 });
    const { result } = await b.manager.executeWithFailover(async (c) => ({
      result: c.refreshToken,
    }));
    expect(result).toBe("rt-x-0+");
    expect(b.refreshes).toEqual([]);
    expect(a.refreshes).toEqual(["x"]);
  });

  it("a credential added, rotated and removed on one replica is added, rotated and removed on the other", async () => {
    const prefix = freshPrefix();
    const a = await replica(prefix, [cred("x")]);
    const b = await replica(prefix, [cred("x")]);
    await stored(a.store, "P/x", "at-x-0");

    a.manager.addCredential(cred("y", { accessToken: "at-y-added" }));
    await vi.waitFor(() => expect(tokenOf(b, "y")).toBe("at-y-added"), { timeout: 10_000 });

    await a.manager.markForRotation("x", cred("z", { accessToken: "at-z-new" }));
    await vi.waitFor(
      () => {
        expect(tokenOf(b, "z")).toBe("at-z-new");
        expect(b.manager.getRotationState("x")?.markedForRotation).toBe(true);
      },
      { timeout: 10_000 },
    );

    expect(a.manager.removeCredential("y")).toBe(true);
    await vi.waitFor(() => expect(tokenOf(b, "y")).toBeUndefined(), { timeout: 10_000 });
    expect(tokenOf(b, "x")).toBe("at-x-0");
    expect(b.refreshes).toEqual([]);
  });

  it("a change whose announcement was lost is read at the next resync", async () => {
    const prefix = freshPrefix();
    const a = await replica(prefix, [cred("x")]);
    const b = await replica(prefix, [cred("x")], undefined, { resyncIntervalMs: 50 });
    await stored(a.store, "P/x", "at-x-0");
    // A write nobody announces: straight into the hash, as a lost message leaves it.
    const raw = new Redis(env.redis.url, { maxRetriesPerRequest: 1 });
    raw.on("error", () => {});
    onCleanup(() => raw.disconnect());
    const data = JSON.parse((await raw.hget(`${prefix}token:P/x`, "data")) ?? "{}");
    data.access_token = "at-x-unannounced";
    data.last_refresh = new Date(Date.now() + 1_000).toISOString();
    await raw.hset(`${prefix}token:P/x`, "v", "99", "data", JSON.stringify(data));

    await vi.waitFor(() => expect(tokenOf(b, "x")).toBe("at-x-unannounced"), { timeout: 10_000 });
    expect(b.refreshes).toEqual([]);
  });
});

describe("health shared between replicas", () => {
  it("a 429 cooldown on one replica holds the credential out of the other's selection", async () => {
    const prefix = freshPrefix();
    const a = await replica(prefix, [cred("x"), cred("y")]);
    const b = await replica(prefix, [cred("x"), cred("y")]);
    const limited = Object.assign(new Error("HTTP 429"), { status: 429, retryAfterMs: 120_000 });
    await a.manager.executeWithFailover(async (c) => {
      if (c.id === "x") throw limited;
      return { result: c.id };
    });
    expect(a.manager.getCredentialHealthInfo("x")?.state).toBe("cooling");

    await vi.waitFor(() => expect(b.manager.getCredentialHealthInfo("x")?.state).toBe("cooling"), {
      timeout: 10_000,
    });
    const until = b.manager.getCredentialHealthInfo("x")?.backoffUntil?.getTime() ?? 0;
    expect(until).toBeGreaterThan(Date.now() + 60_000);
    for (let i = 0; i < 10; i++) {
      const { result } = await b.manager.executeWithFailover(async (c) => ({ result: c.id }));
      expect(result).toBe("y");
    }
    // Failure counts and metrics stay with the replica that saw the failure.
    expect(b.manager.getCredentialHealthInfo("x")?.failureCount).toBe(0);
    // A replica started later takes the stored cooldown before its first request.
    const c = await replica(prefix, [cred("x"), cred("y")]);
    expect(c.manager.getCredentialHealthInfo("x")?.state).toBe("cooling");
  });

  it("a 429 under a scope on one replica cools the credential in that scope only, on the other too", async () => {
    const prefix = freshPrefix();
    const a = await replica(prefix, [cred("x"), cred("y")]);
    const b = await replica(prefix, [cred("x"), cred("y")]);
    const limited = Object.assign(new Error("HTTP 429"), { status: 429, retryAfterMs: 120_000 });
    await a.manager.executeWithFailover(
      async (c) => {
        if (c.id === "x") throw limited;
        return { result: c.id };
      },
      { scope: "pro" },
    );

    await vi.waitFor(
      () => expect(b.manager.getHealthSummary().scopedCooldowns?.pro?.x).toBeInstanceOf(Date),
      { timeout: 10_000 },
    );
    const ids = async (scope?: string) => {
      const used = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const opts = scope === undefined ? undefined : { scope };
        used.add(
          (await b.manager.executeWithFailover(async (c) => ({ result: c.id }), opts)).result,
        );
      }
      return used;
    };
    expect(await ids("pro")).toEqual(new Set(["y"]));
    expect(await ids("flash")).toEqual(new Set(["x", "y"]));
    expect(await ids()).toEqual(new Set(["x", "y"]));
    expect(b.manager.getCredentialHealthInfo("x")?.state).toBe("healthy");
  });

  it("a dead grant on one replica marks the credential for re-authentication on the other, until a new token is stored", async () => {
    const prefix = freshPrefix();
    const dead: RefreshFunc = async () => {
      throw Object.assign(new Error("invalid_grant"), { oauthError: "invalid_grant" });
    };
    const a = await replica(prefix, [cred("x"), cred("y")], dead);
    const b = await replica(prefix, [cred("x"), cred("y")]);
    await stored(a.store, "P/x", "at-x-0");
    await expect(a.manager.refreshCredential("x", { force: true })).rejects.toThrow();
    expect(a.manager.getCredentialHealthInfo("x")?.state).toBe("needs_reauth");

    await vi.waitFor(
      () => expect(b.manager.getCredentialHealthInfo("x")?.state).toBe("needs_reauth"),
      { timeout: 10_000 },
    );
    expect(b.refreshes).toEqual([]);

    // Re-authenticated elsewhere: a newer token stored ends the mark, here and in Redis.
    const other = openStore(prefix);
    const record = await other.load("P/x");
    await other.save("P/x", {
      ...record,
      accessToken: "at-x-reauth",
      refreshToken: "rt-x-reauth",
      expiresAt: new Date(Date.now() + HOUR),
      lastRefresh: new Date(Date.now() + 1_000),
    });
    await vi.waitFor(() => expect(b.manager.getCredentialHealthInfo("x")?.state).toBe("healthy"), {
      timeout: 10_000,
    });
    expect(tokenOf(b, "x")).toBe("at-x-reauth");
    expect((await other.loadHealthMarks("P/")).get("P/x")).toBeUndefined();
  });
});

describe("closing", () => {
  it.each([
    ["built from a url", []],
    ["given a client", ["client"]],
  ])(
    "a process whose store (%s) watched and was closed exits on its own",
    async (_, args) => {
      const { code, out } = await runFixture(
        "redis-closed-store.ts",
        env.redis.url,
        freshPrefix(),
        ...args,
      );
      expect(out).toContain("served by a, closed");
      expect(code).toBe(0);
    },
    30_000,
  );
});
