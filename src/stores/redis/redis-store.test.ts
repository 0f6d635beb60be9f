import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import { Redis } from "ioredis";
import { describe, expect, it, vi } from "vitest";
import {
  deleteKeys,
  freePort,
  keysUnder,
  subscribed,
  uniquePrefix,
} from "../../../test/support/redis.js";
import { redisPerTest } from "../../../test/support/redis-per-test.js";
import { isLockTimeoutError, LockTimeoutError, StoreError } from "../../errors.js";
import type { StoreChange } from "../shared-state.js";
import { deferred, testTokenStore } from "../test-support/token-store-contract.js";
import { RedisTokenStore } from "./redis-store.js";

const env = redisPerTest();
const { freshPrefix, onCleanup } = env;

function open(options: ConstructorParameters<typeof RedisTokenStore>[0] = {}): RedisTokenStore {
  const store = new RedisTokenStore({ url: env.redis.url, prefix: freshPrefix(), ...options });
  onCleanup(() => store.close());
  return store;
}

function rawClient(): Redis {
  const client = new Redis(env.redis.url, { maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  onCleanup(() => client.disconnect());
  return client;
}

testTokenStore("RedisTokenStore", async () => {
  const prefix = uniquePrefix();
  return {
    store: new RedisTokenStore({ url: env.redis.url, prefix }),
    cleanup: () => deleteKeys(env.redis.url, prefix),
  };
});

describe("RedisTokenStore keys", () => {
  it("writes every key under its prefix, and lists keys by prefix whatever they contain", async () => {
    const prefix = freshPrefix();
    const store = open({ prefix });
    const keys = ["p/a", "p/ä-ü", "p[*]?/x", "p/\u{1F511}", "q/a"];
    for (const key of keys) await store.save(key, { accessToken: "t" });
    await store.withLock("p/a", async () => {
      expect((await keysUnder(env.redis.url, prefix)).some((k) => k.includes("lock:"))).toBe(true);
    });
    const written = await keysUnder(env.redis.url, prefix);
    expect(written.length).toBeGreaterThan(0);
    for (const k of written) expect(k.startsWith(prefix)).toBe(true);

    expect([...(await store.loadAll("p/")).keys()].sort()).toEqual(["p/a", "p/ä-ü", "p/\u{1F511}"]);
    expect([...(await store.loadAll("p[*]")).keys()]).toEqual(["p[*]?/x"]);
    expect((await store.loadAll("")).size).toBe(keys.length);
  });

  it("stores with different prefixes on one Redis do not see each other", async () => {
    const a = open();
    const b = open();
    await a.save("p/x", { accessToken: "a" });
    await expect(b.load("p/x")).resolves.toBeUndefined();
    expect((await b.loadAll("")).size).toBe(0);
  });

  it("rejects an unreadable record with a StoreError that quotes none of it", async () => {
    const prefix = freshPrefix();
    const store = open({ prefix });
    await rawClient().hset(
      `${prefix}token:p/bad`,
      "v",
      "1",
      "data",
      '{"access_token": 7, "x": "secret-canary"',
    );
    const err = await store.load("p/bad").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(String(err)).not.toContain("secret-canary");
  });
});

describe("RedisTokenStore lock across stores", () => {
  it("two stores (two connections) racing on one key: one holder at a time, no lost update", async () => {
    const prefix = freshPrefix();
    const a = open({ prefix });
    const b = open({ prefix });
    let inside = 0;
    let maxInside = 0;
    const increment = (store: RedisTokenStore) =>
      store.withLock(
        "p/counter",
        async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          const current = (await store.load("p/counter"))?.refreshCount ?? 0;
          await store.save("p/counter", { accessToken: "t", refreshCount: current + 1 });
          inside--;
        },
        { timeoutMs: 10_000 },
      );
    await Promise.all(Array.from({ length: 20 }, (_, i) => increment(i % 2 ? a : b)));
    expect(maxInside).toBe(1);
    const final = await a.load("p/counter");
    expect(final?.refreshCount).toBe(20);
    expect(final?.version).toBe(20);
  });

  it("a live holder keeps the lock past its lease length, and the waiter gets a LockTimeoutError", async () => {
    const prefix = freshPrefix();
    const holder = open({ prefix, lockLeaseMs: 60 });
    const waiter = open({ prefix });
    const entered = deferred();
    const release = deferred();
    const held = holder.withLock("p/k", async () => {
      entered.resolve();
      await release.promise;
      return "held";
    });
    await entered.promise;
    const err = await waiter
      .withLock("p/k", async () => "stolen", { timeoutMs: 300 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(isLockTimeoutError(err)).toBe(true);
    release.resolve();
    await expect(held).resolves.toBe("held");
    await expect(waiter.withLock("p/k", async () => "next", { timeoutMs: 5_000 })).resolves.toBe(
      "next",
    );
  });

  it("a holder that died (its lock left behind) lets the next one in once its lease expires", async () => {
    const prefix = freshPrefix();
    // What a process killed while holding the lock leaves: the key, with its expiry.
    await rawClient().set(`${prefix}lock:p/k`, "dead-owner", "PX", 150);
    const store = open({ prefix });
    await expect(store.withLock("p/k", async () => "mine", { timeoutMs: 5_000 })).resolves.toBe(
      "mine",
    );
  });

  it("the lock is released only by its owner", async () => {
    const prefix = freshPrefix();
    const store = open({ prefix });
    const raw = rawClient();
    await store.withLock("p/k", async () => {
      // The lease ran out and another process took the lock.
      await raw.set(`${prefix}lock:p/k`, "successor", "PX", 10_000);
    });
    // Releasing must not have deleted the successor's lock.
    await expect(raw.get(`${prefix}lock:p/k`)).resolves.toBe("successor");
  });

  it("fencing: a holder whose lease expired cannot overwrite what the next holder saved", async () => {
    const prefix = freshPrefix();
    const stale = open({ prefix });
    const next = open({ prefix });
    const raw = rawClient();
    await stale.save("p/k", { accessToken: "v1" });
    const err = await stale
      .withLock("p/k", async () => {
        // The lease expires (the key is gone) and another holder refreshes and saves.
        await raw.del(`${prefix}lock:p/k`);
        await next.withLock("p/k", async () => {
          await next.save("p/k", { accessToken: "v2-newer" });
        });
        return stale.save("p/k", { accessToken: "v2-stale" });
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(isLockTimeoutError(err)).toBe(false);
    expect(String(err)).toMatch(/newer version/);
    await expect(next.load("p/k")).resolves.toMatchObject({ accessToken: "v2-newer", version: 2 });
  });

  it("fencing refuses nothing while the holder keeps its lock, or when nobody wrote since", async () => {
    const prefix = freshPrefix();
    const holder = open({ prefix });
    const other = open({ prefix });
    const raw = rawClient();
    await holder.save("p/k", { accessToken: "v1" });
    await holder.withLock("p/k", async () => {
      // An unlocked write elsewhere (a rotation mark) does not make the holder stale.
      await other.save("p/k", { accessToken: "v2" });
      await expect(holder.save("p/k", { accessToken: "v3" })).resolves.toMatchObject({
        version: 3,
      });
      // Lease gone but no one saved since: the holder's rotated token must not be lost.
      await raw.del(`${prefix}lock:p/k`);
      await expect(holder.save("p/k", { accessToken: "v4" })).resolves.toMatchObject({
        version: 4,
      });
    });
  });
});

describe("RedisTokenStore connection", () => {
  it("close quits a connection it opened, and leaves a given client open", async () => {
    const client = rawClient();
    const given = new RedisTokenStore({ client, prefix: freshPrefix() });
    await given.save("p/a", { accessToken: "a" });
    await given.close();
    await expect(client.ping()).resolves.toBe("PONG");

    const own = new RedisTokenStore({ url: env.redis.url, prefix: freshPrefix() });
    await own.load("p/a");
    await own.close();
    await own.close();
  });

  it("a Redis that is not there: every call rejects with a StoreError (not a lock timeout), without the password", async () => {
    const port = await freePort();
    const store = new RedisTokenStore({
      url: `redis://user:pa55-secret-canary@127.0.0.1:${port}/0`,
      prefix: freshPrefix(),
      commandTimeoutMs: 2_000,
    });
    onCleanup(() => store.close());
    const calls: Promise<unknown>[] = [
      store.load("p/a"),
      store.loadAll("p/"),
      store.save("p/a", { accessToken: "secret-token-canary" }),
      store.delete("p/a"),
      store.withLock("p/a", async () => "never", { timeoutMs: 30_000 }),
    ];
    for (const call of calls) {
      const err = await call.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(isLockTimeoutError(err)).toBe(false);
      const text = `${String(err)} ${String((err as Error).cause)} ${JSON.stringify(err)}`;
      expect(text).not.toContain("pa55-secret-canary");
      expect(text).not.toContain("secret-token-canary");
      expect(text).toContain(`127.0.0.1:${port}`);
    }
  });

  it("a Redis that accepts connections and never answers: calls reject with a StoreError at the command timeout", async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const store = new RedisTokenStore({
        url: `redis://127.0.0.1:${port}`,
        prefix: freshPrefix(),
        commandTimeoutMs: 200,
      });
      onCleanup(() => store.close());
      await expect(store.load("p/a")).rejects.toThrow(StoreError);
      const err = await store.withLock("p/a", async () => 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(isLockTimeoutError(err)).toBe(false);
      await store.close();
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

describe("RedisTokenStore options", () => {
  it("refuses wrong options with a TypeError or RangeError that does not quote the URL", () => {
    expect(() => new RedisTokenStore({ nope: 1 } as never)).toThrow(/nope/);
    expect(() => new RedisTokenStore({ url: "http://user:pw-canary@host" })).toThrow(TypeError);
    expect(() => new RedisTokenStore({ url: "not a url pw-canary" })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("pw-canary") }),
    );
    expect(() => new RedisTokenStore({ client: {} as never })).toThrow(/ioredis client/);
    expect(() => new RedisTokenStore({ url: env.redis.url, client: rawClient() })).toThrow(/both/);
    expect(() => new RedisTokenStore({ prefix: "" })).toThrow(TypeError);
    expect(() => new RedisTokenStore({ lockLeaseMs: 0 })).toThrow(RangeError);
    expect(() => new RedisTokenStore({ commandTimeoutMs: 1.5 })).toThrow(RangeError);
  });
});

/** Resolves once `store` hears announcements; later changes are collected in the returned list. */
async function listening(store: RedisTokenStore, prefix = ""): Promise<StoreChange[]> {
  await subscribed(store);
  const changes: StoreChange[] = [];
  store.watch(prefix, (change) => {
    if (change.type !== "resync") changes.push(change);
  });
  return changes;
}

describe("RedisTokenStore sharing", () => {
  it("announces other stores' saves, deletes and health marks under the watched prefix, never its own", async () => {
    const prefix = freshPrefix();
    const a = open({ prefix });
    const b = open({ prefix });
    const heard = await listening(a, "p/");
    const done = deferred();
    a.watch("q/", (change) => {
      if (change.type === "saved") done.resolve();
    });
    await a.save("p/own", { accessToken: "mine" });
    await b.save("p/x", { accessToken: "t" });
    await b.saveHealthMark("p/x", { kind: "cooldown", remainingMs: 60_000, scope: "model-1" });
    await b.delete("p/x");
    await b.save("q/last", { accessToken: "t" });
    // Messages on one channel arrive in order: the last one heard means the others were too.
    await done.promise;
    expect(heard).toEqual([
      { type: "saved", key: "p/x", version: 1 },
      {
        type: "health",
        key: "p/x",
        mark: { kind: "cooldown", remainingMs: 60_000, scope: "model-1" },
      },
      { type: "deleted", key: "p/x" },
    ]);
  });

  it("keeps health marks with their end: never shortened, apart by scope, expiring with the last, gone with the record", async () => {
    const prefix = freshPrefix();
    const store = open({ prefix });
    const raw = rawClient();
    await store.save("p/a", { accessToken: "t" });
    await store.saveHealthMark("p/a", { kind: "cooldown", remainingMs: 60_000 });
    await store.saveHealthMark("p/a", { kind: "cooldown", remainingMs: 1_000 });
    await store.saveHealthMark("p/a", { kind: "cooldown", remainingMs: 5_000, scope: "m" });
    await store.saveHealthMark("p/a", { kind: "needs_reauth", remainingMs: 30_000 });
    const marks = (await store.loadHealthMarks("p/")).get("p/a") ?? [];
    const byField = new Map(marks.map((m) => [`${m.kind}@${m.scope ?? ""}`, m.remainingMs]));
    expect([...byField.keys()].sort()).toEqual(["cooldown@", "cooldown@m", "needs_reauth@"]);
    expect(byField.get("cooldown@")).toBeGreaterThan(30_000);
    expect(byField.get("cooldown@")).toBeLessThanOrEqual(60_000);
    expect(byField.get("cooldown@m")).toBeLessThanOrEqual(5_000);
    const ttl = await raw.pttl(`${prefix}health:p/a`);
    expect(ttl).toBeGreaterThan(30_000);
    expect(ttl).toBeLessThanOrEqual(60_000);

    // A new token ends the re-authentication mark, not the cooldowns.
    await store.save("p/a", { accessToken: "t2" });
    const after = (await store.loadHealthMarks("p/")).get("p/a") ?? [];
    expect(after.map((m) => m.kind).sort()).toEqual(["cooldown", "cooldown"]);

    await store.delete("p/a");
    expect((await store.loadHealthMarks("")).size).toBe(0);
    await expect(raw.exists(`${prefix}health:p/a`)).resolves.toBe(0);
  });

  it("hears announcements through a given client made with lazyConnect", async () => {
    const client = new Redis(env.redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    client.on("error", () => {});
    onCleanup(() => client.disconnect());
    const prefix = freshPrefix();
    const store = new RedisTokenStore({ client, prefix });
    onCleanup(() => store.close());
    const heard = await listening(store);
    await open({ prefix }).save("p/x", { accessToken: "t" });
    await vi.waitFor(() => expect(heard).toEqual([{ type: "saved", key: "p/x", version: 1 }]));
  });

  it("refuses a malformed health mark or watcher", async () => {
    const store = open();
    await expect(store.saveHealthMark("p/a", { kind: "nope" } as never)).rejects.toThrow(TypeError);
    await expect(store.saveHealthMark("p/a", { kind: "cooldown", remainingMs: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(store.saveHealthMark("p/a", { kind: "cooldown" } as never)).rejects.toThrow(
      RangeError,
    );
    await expect(
      store.saveHealthMark("p/a", { kind: "cooldown", remainingMs: 5, scope: "" }),
    ).rejects.toThrow(TypeError);
    expect(() => store.watch("", "nope" as never)).toThrow(TypeError);
  });
});
