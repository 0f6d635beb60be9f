/**
 * Behaviours found wrong in review, each pinned by the repro that showed it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createManagers } from "../src/config/create-managers.js";
import { parseConfig } from "../src/config/parse.js";
import { StoreError } from "../src/errors.js";
import { KeyManager } from "../src/manager/key-manager.js";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { AlertCooldown } from "../src/monitoring/alerts.js";
import { MemoryTokenStore } from "../src/stores/memory-store.js";
import type { StoredToken, TokenStore } from "../src/stores/types.js";
import type { OAuthCredentialSet, RefreshFunc } from "../src/types.js";

const quiet = { warn() {}, error() {} };
const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

describe("requests", () => {
  it("close() with requests in flight neither penalises their credential nor replays them", async () => {
    const m = new OAuthKeyManager(
      "P",
      ["a", "b", "c"].map((id) => ({ id, accessToken: `tok-${id}xxx` })),
      undefined,
      { logger: quiet },
    );
    const ran: string[] = [];
    const failures: string[] = [];
    m.on("failure", (f) => failures.push(f.credentialId));
    const request = m.executeWithFailover(async (c, signal) => {
      ran.push(c.id);
      await sleep(50, undefined, { signal });
      return { result: c.id };
    });
    await sleep(5);
    await m.close();
    expect((await request).result).toBe("a");
    expect(ran).toEqual(["a"]);
    expect(failures).toEqual([]);
  });

  it("close() during the first store load waits for the request accepted before it", async () => {
    const store = new MemoryTokenStore();
    const loadAll = store.loadAll.bind(store);
    store.loadAll = async (prefix: string) => {
      await sleep(50);
      return loadAll(prefix);
    };
    const m = new OAuthKeyManager("P", [{ id: "a", accessToken: "tok-aaaa" }], undefined, {
      store,
      logger: quiet,
    });
    const events: string[] = [];
    const request = m
      .executeWithFailover(async () => {
        events.push("op ran");
        return { result: 1 };
      })
      .then(() => events.push("request resolved"));
    await m.close();
    events.push("close resolved");
    await request;
    expect(events).toEqual(["op ran", "request resolved", "close resolved"]);
  });

  it("no refresh starts after close(), so close() does not wait out a refresh timeout", async () => {
    const refresh = vi.fn(() => new Promise<never>(() => {}));
    const m = new OAuthKeyManager(
      "P",
      [
        { id: "a", accessToken: "tok-aaaa" },
        { id: "b", accessToken: "", refreshToken: "rt-bbbb" },
      ],
      refresh,
      { logger: quiet, refreshTimeoutMs: 60_000 },
    );
    let failA!: (e: unknown) => void;
    const request = m
      .executeWithFailover((c) =>
        c.id === "a"
          ? new Promise<never>((_, reject) => {
              failA = reject;
            })
          : Promise.resolve({ result: c.id }),
      )
      .catch((e: unknown) => e);
    await sleep(5);
    const closing = m.close();
    // a fails during close; the failover to b would need a refresh
    failA(Object.assign(new Error("upstream 503"), { status: 503 }));
    await closing;
    await request;
    expect(refresh).not.toHaveBeenCalled();
  });

  it("an operation may return a plain value, with or without a caller signal", async () => {
    const m = new OAuthKeyManager("P", [{ id: "a", accessToken: "tok-aaaa" }], undefined, {
      logger: quiet,
    });
    const op = ((cred: OAuthCredentialSet) => ({ result: cred.id })) as never;
    expect((await m.executeWithFailover(op)).result).toBe("a");
    const withSignal = await m.executeWithFailover(op, { signal: new AbortController().signal });
    expect(withSignal.result).toBe("a");
    expect(m.getCredentialHealthInfo("a")?.failureCount).toBe(0);
  });

  it("a success of a request that began before a 429 keeps the Retry-After cooldown", async () => {
    let now = 1_000_000;
    const m = new OAuthKeyManager("P", [{ id: "a", accessToken: "tok-aaaa" }], undefined, {
      now: () => now,
      logger: quiet,
    });
    let finish!: () => void;
    const slow = m.executeWithFailover(
      () =>
        new Promise<{ result: string }>((resolve) => {
          finish = () => resolve({ result: "slow" });
        }),
    );
    await sleep(0);
    now += 10;
    await m
      .executeWithFailover(async () => {
        throw Object.assign(new Error("rate limited"), {
          status: 429,
          headers: { "retry-after": "60" },
        });
      })
      .catch(() => {});
    now += 100;
    finish();
    await slow;
    expect(m.getCredentialHealthInfo("a")?.isAvailable).toBe(false);
  });

  it("a 503's Retry-After sets the cooldown too", async () => {
    const now = 1_000_000;
    const m = new OAuthKeyManager("P", [{ id: "a", accessToken: "tok-aaaa" }], undefined, {
      now: () => now,
      logger: quiet,
    });
    await m
      .executeWithFailover(async () => {
        throw Object.assign(new Error("maintenance"), {
          status: 503,
          headers: { "retry-after": "120" },
        });
      })
      .catch(() => {});
    expect(m.getCredentialHealthInfo("a")?.backoffUntil?.getTime()).toBe(now + 120_000);
  });

  it("retryAfterMs never points at a credential that needs re-authentication", async () => {
    const now = 1_000_000;
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "tok-aaaa", refreshToken: "rt-aaaa" }],
      async () => {
        throw Object.assign(new Error("dead"), { oauthError: "invalid_grant" });
      },
      { now: () => now, logger: quiet },
    );
    await m
      .executeWithFailover(async () => {
        throw Object.assign(new Error("x"), { status: 503 });
      })
      .catch(() => {});
    await m.refreshCredential("a", { force: true }).catch(() => {});
    const err = await m.executeWithFailover(async () => ({ result: 1 })).catch((e: unknown) => e);
    expect((err as { retryAfterMs?: number }).retryAfterMs).toBeUndefined();
  });

  it("KeyManager rejects a non-function operation like OAuthKeyManager (no synchronous throw)", async () => {
    const k = new KeyManager("P", ["key-aaaa"]);
    const pending = k.executeWithFailover(null as never);
    await expect(pending).rejects.toThrow(TypeError);
  });
});

describe("secrets", () => {
  it("a token inside a class instance of an error (an HTTP client's headers) is redacted", async () => {
    class HeadersLike {
      [k: string]: unknown;
      constructor(o: Record<string, string>) {
        Object.assign(this, o);
      }
    }
    const m = new OAuthKeyManager("P", [{ id: "a", accessToken: "SECRET-TOKEN-123" }], undefined, {
      logger: quiet,
    });
    const err = await m
      .executeWithFailover(async (cred) => {
        throw Object.assign(new Error("Request failed with status code 503"), {
          status: 503,
          config: { headers: new HeadersLike({ Authorization: `Bearer ${cred.accessToken}` }) },
        });
      })
      .catch((e: unknown) => e);
    expect(inspect(err, { depth: 10 })).not.toContain("SECRET-TOKEN-123");
  });

  it("reportFailure's error is redacted in the failure event", () => {
    const m = new OAuthKeyManager("P", [{ id: "a", accessToken: "SECRET-TOKEN-123" }], undefined, {
      logger: quiet,
    });
    const seen: string[] = [];
    m.on("failure", (e) => seen.push((e.error as Error).message));
    m.reportFailure("a", new Error("401 for Bearer SECRET-TOKEN-123"));
    const k = new KeyManager("K", ["sk-SECRET-KEY-456"], { logger: quiet });
    k.on("failure", (e) => seen.push((e.error as Error).message));
    k.reportFailure("sk-SECRET-KEY-456", new Error("invalid api key sk-SECRET-KEY-456"));
    expect(seen).toHaveLength(2);
    expect(seen.join(" ")).not.toMatch(/SECRET/);
  });

  it("JSON.stringify of a credential copy shows no secret; its fields still hold them", async () => {
    const m = new OAuthKeyManager("P", [
      {
        id: "a",
        accessToken: "SECRET-AT-1",
        refreshToken: "SECRET-RT-1",
        clientSecret: "SECRET-CS-1",
      },
    ]);
    const [c] = m.getCredentials();
    expect(JSON.stringify(c)).not.toMatch(/SECRET/);
    expect(JSON.stringify(await m.getNextCredential())).not.toMatch(/SECRET/);
    expect(c?.accessToken).toBe("SECRET-AT-1");
    expect({ ...c }.refreshToken).toBe("SECRET-RT-1");
  });
});

describe("refresh", () => {
  it("a refresh timeout above 2^31-1 ms is capped, not fired after 1 ms", async () => {
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "", refreshToken: "rt-aaaa" }],
      async (c) => {
        await sleep(20);
        return { ...c, accessToken: "new-tok-1" };
      },
      { refreshTimeoutMs: 3_000_000_000, logger: quiet },
    );
    expect((await m.refreshCredential("a")).accessToken).toBe("new-tok-1");
  });

  it("invalid_grant takes in only a NEWER stored token; an older one leaves the credential dead", async () => {
    const store = new MemoryTokenStore();
    await store.save("P/a", {
      accessToken: "at-old-1111",
      refreshToken: "rt-old-1111",
      lastRefresh: new Date(T0 - 2 * HOUR),
      expiresAt: new Date(T0 - HOUR),
    });
    const used: string[] = [];
    const m = new OAuthKeyManager(
      "P",
      [
        {
          id: "a",
          accessToken: "at-new-2222",
          refreshToken: "rt-new-2222",
          lastRefresh: new Date(T0 - HOUR),
          expiresAt: new Date(T0 + 60_000),
        },
      ],
      async () => {
        throw Object.assign(new Error("revoked"), { oauthError: "invalid_grant" });
      },
      { now: () => T0, store, logger: quiet },
    );
    await m.ready();
    await m
      .executeWithFailover(async (c) => {
        used.push(c.accessToken);
        return { result: 1 };
      })
      .catch(() => {});
    expect(m.getCredentialHealthInfo("a")?.state).toBe("needs_reauth");
    expect(used).not.toContain("at-old-1111");
    // and the configured, newer tokens replaced the stale record at load
    expect((await store.load("P/a"))?.refreshToken).toBe("rt-new-2222");
  });

  it("a store whose lock never settles cannot hang requests forever", async () => {
    const store = new MemoryTokenStore();
    const hanging: TokenStore = {
      load: (key) => store.load(key),
      loadAll: (prefix) => store.loadAll(prefix),
      save: (key, token) => store.save(key, token),
      delete: (key) => store.delete(key),
      withLock: () => new Promise<never>(() => {}),
      close: () => store.close(),
    };
    vi.useFakeTimers();
    try {
      const m = new OAuthKeyManager(
        "P",
        [{ id: "a", accessToken: "", refreshToken: "rt" }],
        async (c) => ({ ...c, accessToken: "x" }),
        { store: hanging, refreshTimeoutMs: 100, storeTimeoutMs: 100, logger: quiet },
      );
      const outcome = m
        .executeWithFailover(async () => ({ result: 1 }))
        .then(
          () => "ok",
          (e: unknown) => (e as Error).name,
        );
      await vi.advanceTimersByTimeAsync(60_000);
      // the store answers, so another process is presumed to hold the lock: no refresh beside it
      expect(await outcome).toBe("FailoverExhaustedError");
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("store and upkeep", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("start() loads the store first: a stored 31-day-old credential is due for rotation", async () => {
    const store = new MemoryTokenStore();
    await store.save("P/a", {
      accessToken: "tok-aaaa",
      rotation: { createdAt: new Date(T0 - 31 * DAY), markedForRotation: false },
    });
    const onRotationNeeded = vi.fn();
    const m = new OAuthKeyManager("P", [{ id: "a", accessToken: "tok-aaaa" }], undefined, {
      store,
      logger: quiet,
      rotationPolicy: {
        enabled: true,
        rotationInterval: 30 * DAY,
        gracePeriod: 7 * DAY,
        autoDecommission: true,
        onRotationNeeded,
      },
    });
    m.start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(onRotationNeeded).toHaveBeenCalledWith("a");
    await m.close();
  });

  it("a proactive refresh after start() keeps the stored rotation age", async () => {
    const store = new MemoryTokenStore();
    await store.save("P/a", {
      accessToken: "tok-aaaa",
      refreshToken: "rt-aaaa",
      expiresAt: new Date(T0 + 60_000),
      lastRefresh: new Date(T0 - DAY),
      rotation: { createdAt: new Date(T0 - 20 * DAY), markedForRotation: false },
    });
    const refresh: RefreshFunc = async (c) => ({
      ...c,
      accessToken: "tok-new",
      expiresAt: new Date(Date.now() + HOUR),
    });
    const m = new OAuthKeyManager(
      "P",
      [
        {
          id: "a",
          accessToken: "tok-aaaa",
          refreshToken: "rt-aaaa",
          expiresAt: new Date(T0 + 60_000),
        },
      ],
      refresh,
      { store, logger: quiet },
    );
    m.start();
    await vi.advanceTimersByTimeAsync(2_000);
    const stored = await store.load("P/a");
    expect(stored?.accessToken).toBe("tok-new");
    expect(stored?.rotation?.createdAt.getTime()).toBe(T0 - 20 * DAY);
    await m.close();
  });

  it("a failing onDecommission is retried with growing spacing, not every second", async () => {
    const onDecommission = vi.fn(async () => {
      throw new Error("nope");
    });
    const m = new OAuthKeyManager("P", [{ id: "a", accessToken: "tok-aaaa" }], undefined, {
      logger: quiet,
      rotationPolicy: {
        enabled: true,
        rotationInterval: 30 * DAY,
        gracePeriod: 1000,
        autoDecommission: true,
        onDecommission,
      },
    });
    m.start();
    await m.markForRotation("a", { id: "b", accessToken: "tok-bbbb" });
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    // 1 min, 2 min, 4 min after the first failure: 4 calls in 10 minutes, not 600
    expect(onDecommission.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(onDecommission.mock.calls.length).toBeLessThanOrEqual(5);
    expect(m.getCredentials().map((c) => c.id)).toEqual(["a", "b"]);
    await m.close();
  });
});

describe("configuration and stores", () => {
  it("a key changed in the YAML wins over the one a store kept from before", async () => {
    const store = new MemoryTokenStore();
    const run = async (key: string) => {
      const config = parseConfig(`providers:\n  openai:\n    api_keys: ["${key}"]\n`, {});
      const m = createManagers(config, { store }).get("openai")!;
      await m.ready();
      const r = await m.executeWithFailover(async (c) => ({ result: c.accessToken }));
      await m.close();
      return r.result;
    };
    expect(await run("sk-OLD-revoked")).toBe("sk-OLD-revoked");
    expect(await run("sk-NEW")).toBe("sk-NEW");
  });

  it("last_refresh in the YAML makes re-authenticated tokens win over stored ones", async () => {
    const store = new MemoryTokenStore();
    await store.save("gemini/a", {
      accessToken: "at-stored",
      refreshToken: "rt-stored",
      lastRefresh: new Date("2026-01-01T00:00:00Z"),
    } satisfies StoredToken);
    const config = parseConfig(
      'providers:\n  gemini:\n    oauth_credentials:\n      - { id: a, refresh_token: rt-fresh, access_token: at-fresh, last_refresh: "2026-02-01T00:00:00Z" }\n',
      {},
    );
    const m = createManagers(config, { store }).get("gemini")!;
    await m.ready();
    expect(m.getCredentials()[0]?.refreshToken).toBe("rt-fresh");
    await m.close();
  });

  it("the critical save alert is not held back by an earlier store warning", async () => {
    const store: TokenStore = {
      load: async () => {
        throw new StoreError("EIO");
      },
      loadAll: async () => {
        throw new StoreError("EIO");
      },
      save: async () => {
        throw new StoreError("ENOSPC");
      },
      delete: async () => {},
      withLock: (_key, fn) => fn(),
      close: async () => {},
    };
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "", refreshToken: "rt" }],
      async (c) => ({ ...c, accessToken: "fresh" }),
      { store, logger: quiet },
    );
    m.setMonitoringConfig();
    const alerts: string[] = [];
    m.on("alert", (a) => alerts.push(a.message));
    await m.ready().catch(() => {});
    await m.executeWithFailover(async () => ({ result: 1 }));
    expect(alerts).toContain("Token store unavailable");
    expect(alerts).toContain("Failed to persist refreshed token");
    await m.close();
  });

  it("a late failure of an old alert's send does not cancel a newer alert's cooldown", () => {
    let now = 0;
    const cooldown = new AlertCooldown({ now: () => now });
    expect(cooldown.tryAcquire("failure", "a", 1000)).toBe(true);
    const first = cooldown.holder("failure", "a");
    now = 1001;
    expect(cooldown.tryAcquire("failure", "a", 1000)).toBe(true);
    cooldown.release("failure", "a", first); // the first send finally failed
    now = 1002;
    expect(cooldown.tryAcquire("failure", "a", 1000)).toBe(false);
  });

  it("two managers of one provider in one registry give one webhook series per outcome", async () => {
    const a = new OAuthKeyManager("openai", [{ id: "a", accessToken: "x" }]);
    const b = new OAuthKeyManager("openai", [{ id: "b", accessToken: "y" }]);
    const registry = new Registry();
    a.metricsCollector().register(registry);
    b.metricsCollector().register(registry);
    const text = await registry.metrics();
    const lines = text
      .split("\n")
      .filter((l) => l.startsWith("oauthmanager_webhook_deliveries_total{"));
    expect(new Set(lines).size).toBe(lines.length);
    expect(lines.filter((l) => l.includes('outcome="sent"'))).toHaveLength(1);
  });
});
