/**
 * The manager with a token store: restarts keep rotated refresh tokens, processes sharing a
 * file refresh once, a failing store degrades to memory with an alert.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StoreError } from "../src/errors.js";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { FileTokenStore } from "../src/stores/file-store.js";
import { MemoryTokenStore } from "../src/stores/memory-store.js";
import type { StoredToken, TokenStore } from "../src/stores/types.js";
import type { OAuthCredentialSet } from "../src/types.js";
import { startChild } from "./fixtures/store-child.js";
import { startTokenServer, type TokenServer } from "./support/token-server.js";

const quiet = { warn() {}, error() {} };
let dir: string;
let server: TokenServer | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "oauthmanager-store-"));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

const configured = (): OAuthCredentialSet[] => [
  {
    id: "cred",
    accessToken: "expired",
    refreshToken: "rt-0",
    expiresAt: new Date(Date.now() - 1000),
  },
];

describe("restart", () => {
  it("a restarted manager uses the rotated refresh token from the store, not the config's", async () => {
    server = await startTokenServer({ rotate: true });
    server.allow("rt-0");
    const path = join(dir, "tokens.json");

    const storeA = new FileTokenStore({ path });
    const a = new OAuthKeyManager("gemini", configured(), server.refreshFunc(), {
      store: storeA,
      logger: quiet,
    });
    const first = await a.executeWithFailover(async (c) => ({ result: c.accessToken }));
    expect(first.result).toBe("at-1");
    await a.close();
    await storeA.close();

    // the config still says rt-0, which the endpoint has invalidated
    const storeB = new FileTokenStore({ path });
    const b = new OAuthKeyManager("gemini", configured(), server.refreshFunc(), {
      store: storeB,
      logger: quiet,
    });
    await b.ready();
    expect(b.getCredentials()[0]).toMatchObject({
      accessToken: "at-1",
      refreshToken: "rt-1",
      refreshCount: 1,
    });
    const again = await b.refreshCredential("cred", { force: true });
    expect(again).toMatchObject({ accessToken: "at-2", refreshToken: "rt-2" });
    expect(server.calls).toBe(2);
    expect(b.getCredentialHealthInfo("cred")?.state).toBe("healthy");
    await b.close();
    await storeB.close();
  });

  it("rotation state survives restarts: a 30-day interval counts from the first start", async () => {
    const DAY = 86_400_000;
    let t = Date.UTC(2026, 0, 1);
    const now = () => t;
    const store = new MemoryTokenStore();
    const policy = {
      enabled: true,
      rotationInterval: 30 * DAY,
      gracePeriod: 7 * DAY,
      autoDecommission: true,
    };
    const creds = (): OAuthCredentialSet[] => [
      { id: "a", accessToken: "x" },
      { id: "b", accessToken: "y" },
    ];
    const first = new OAuthKeyManager("p", creds(), undefined, {
      store,
      now,
      rotationPolicy: policy,
      logger: quiet,
    });
    await first.ready();
    await first.markForRotation("b", { id: "b2", accessToken: "z" });
    await vi.waitFor(async () =>
      expect((await store.load("p/b"))?.rotation?.markedForRotation).toBe(true),
    );
    await first.close();

    t += 29 * DAY;
    const second = new OAuthKeyManager(
      "p",
      [...creds(), { id: "b2", accessToken: "z" }],
      undefined,
      {
        store,
        now,
        rotationPolicy: policy,
        logger: quiet,
      },
    );
    await second.ready();
    expect(second.checkRotationNeeded()).toEqual([]);
    expect(second.getRotationState("b")).toMatchObject({
      markedForRotation: true,
      replacementId: "b2",
    });
    t += DAY;
    // b2 was created when b was marked, at the first start; b is marked already
    expect(second.checkRotationNeeded()).toEqual(["a", "b2"]);
    await second.close();
  });
});

describe("order after a refresh", () => {
  it("the store is written before onTokenRefresh runs", async () => {
    const order: string[] = [];
    const store = new MemoryTokenStore();
    const save = store.save.bind(store);
    store.save = async (key, token) => {
      order.push(`save ${token.accessToken}`);
      return save(key, token);
    };
    const m = new OAuthKeyManager(
      "p",
      [
        {
          id: "cred",
          accessToken: "",
          refreshToken: "rt",
          onTokenRefresh: async (_id, access) => {
            order.push(`callback ${access}`);
          },
        },
      ],
      async (c) => ({ ...c, accessToken: "fresh" }),
      { store, logger: quiet },
    );
    await m.ready();
    // the configured credential is stored in the background once the load found no record
    await vi.waitFor(() => expect(order).toEqual(["save "]));
    order.length = 0;
    await m.executeWithFailover(async () => ({ result: 1 }));
    expect(order).toEqual(["save fresh", "callback fresh"]);
    await m.close();
  });
});

describe("processes sharing a file store", () => {
  it("two, then four manager processes refresh a credential exactly once", async () => {
    for (const n of [2, 4]) {
      server = await startTokenServer({ rotate: true, delayMs: 50 });
      server.allow("rt-0");
      const path = join(dir, `shared-${n}.json`);
      const children = Array.from({ length: n }, () =>
        startChild("manager-process.ts", [path, server!.url]),
      );
      await Promise.all(children.map((c) => c.waitForLine((l) => l === "ready")));
      for (const c of children) c.process.stdin?.write("go\n");
      const outputs = await Promise.all(
        children.map((c) => c.waitForLine((l) => l.startsWith("{"))),
      );
      const exits = await Promise.all(children.map((c) => c.exited));
      expect(exits.map((e) => e.code)).toEqual(Array(n).fill(0));
      expect(server.calls).toBe(1);
      expect(new Set(outputs.map((o) => (JSON.parse(o) as { token: string }).token))).toEqual(
        new Set(["at-1"]),
      );
      await server.close();
      server = undefined;
    }
  });
});

/**
 * Another process's view of a shared store: its writes and locks wait at a gate until `open()`,
 * as a process slowed down between reading the store and writing to it would.
 */
class DelayedProcessStore implements TokenStore {
  readonly #shared: TokenStore;
  readonly #pending = new Set<Promise<unknown>>();
  #open!: () => void;
  readonly #gate = new Promise<void>((resolve) => {
    this.#open = resolve;
  });
  constructor(shared: TokenStore) {
    this.#shared = shared;
  }
  /** Lets the held writes and locks through; resolves once they have settled. */
  async open(): Promise<void> {
    this.#open();
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
  #afterGate<T>(work: () => Promise<T>): Promise<T> {
    const promise = this.#gate.then(work);
    this.#pending.add(promise);
    void promise.then(
      () => this.#pending.delete(promise),
      () => this.#pending.delete(promise),
    );
    return promise;
  }
  load(key: string) {
    return this.#shared.load(key);
  }
  loadAll(prefix: string) {
    return this.#shared.loadAll(prefix);
  }
  save(key: string, token: StoredToken) {
    return this.#afterGate(() => this.#shared.save(key, token));
  }
  delete(key: string) {
    return this.#afterGate(() => this.#shared.delete(key));
  }
  withLock<T>(key: string, fn: () => Promise<T>) {
    return this.#afterGate(() => this.#shared.withLock(key, fn));
  }
  close() {
    return Promise.resolve();
  }
}

describe("a process that stores its configured credential late", () => {
  /** One-use refresh tokens, as a rotating provider issues them: each exchange spends its token. */
  function rotatingEndpoint() {
    const live = new Set(["rt-0"]);
    const endpoint = {
      issued: 0,
      refresh: async (c: OAuthCredentialSet): Promise<OAuthCredentialSet> => {
        if (!c.refreshToken || !live.delete(c.refreshToken)) {
          throw Object.assign(new Error("invalid_grant"), {
            oauthError: "invalid_grant",
            status: 400,
          });
        }
        const n = ++endpoint.issued;
        live.add(`rt-${n}`);
        return {
          ...c,
          accessToken: `at-${n}`,
          refreshToken: `rt-${n}`,
          expiresAt: new Date(Date.now() + 3_600_000),
        };
      },
    };
    return endpoint;
  }

  /**
   * Process B reads the empty store and is held up before its first write; meanwhile process A
   * refreshes the credential and stores the rotated refresh token.
   */
  async function refreshedWhileBWasSlow() {
    const endpoint = rotatingEndpoint();
    const shared = new MemoryTokenStore();
    const slow = new DelayedProcessStore(shared);
    const b = new OAuthKeyManager("p", configured(), endpoint.refresh, {
      store: slow,
      logger: quiet,
    });
    await b.ready();
    const a = new OAuthKeyManager("p", configured(), endpoint.refresh, {
      store: shared,
      logger: quiet,
    });
    expect((await a.executeWithFailover(async (c) => ({ result: c.accessToken }))).result).toBe(
      "at-1",
    );
    return { endpoint, shared, slow, a, b };
  }

  it("does not overwrite a token another process refreshed meanwhile", async () => {
    const { endpoint, shared, slow, a, b } = await refreshedWhileBWasSlow();
    await slow.open();

    expect(await shared.load("p/cred")).toMatchObject({
      accessToken: "at-1",
      refreshToken: "rt-1",
    });
    const used = await b.executeWithFailover(async (c) => ({ result: c.accessToken }));
    expect(used.result).toBe("at-1");
    expect(endpoint.issued).toBe(1);
    await a.close();
    await b.close();
  });

  it("a refresh waiting for the lock meanwhile uses the token that check takes in", async () => {
    const { endpoint, shared, slow, a, b } = await refreshedWhileBWasSlow();
    // B's request needs a refresh and queues for the lock behind B's first write
    const used = b.executeWithFailover(async (c) => ({ result: c.accessToken }));
    await slow.open();

    expect((await used).result).toBe("at-1");
    expect(endpoint.issued).toBe(1);
    expect(await shared.load("p/cred")).toMatchObject({
      accessToken: "at-1",
      refreshToken: "rt-1",
    });
    await a.close();
    await b.close();
  });
});

/** A store that fails on demand, around a real MemoryTokenStore. */
class FlakyStore implements TokenStore {
  readonly inner = new MemoryTokenStore();
  failSaves = 0;
  hangLoads = false;
  saves = 0;
  load(key: string) {
    return this.hangLoads ? new Promise<never>(() => {}) : this.inner.load(key);
  }
  loadAll(prefix: string) {
    return this.hangLoads ? new Promise<never>(() => {}) : this.inner.loadAll(prefix);
  }
  async save(key: string, token: StoredToken) {
    this.saves++;
    if (this.failSaves > 0) {
      this.failSaves--;
      throw new StoreError("disk full");
    }
    return this.inner.save(key, token);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  withLock<T>(key: string, fn: () => Promise<T>) {
    return this.inner.withLock(key, fn);
  }
  close() {
    return this.inner.close();
  }
}

describe("a failing store", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a failed save keeps the new token in use, alerts, and retries until it lands", async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const store = new FlakyStore();
    const m = new OAuthKeyManager(
      "p",
      [{ id: "cred", accessToken: "", refreshToken: "rt" }],
      async (c) => ({
        ...c,
        accessToken: "fresh",
        refreshToken: "rt-rotated",
        expiresAt: new Date(Date.now() + 3_600_000),
      }),
      { store, logger: quiet },
    );
    m.setMonitoringConfig();
    await m.ready();
    const alerts: string[] = [];
    const storeErrors: string[] = [];
    m.on("alert", (a) => alerts.push(a.message));
    m.on("store_error", (e) => storeErrors.push(e.operation));
    store.failSaves = 2;
    const res = await m.executeWithFailover(async (c) => ({ result: c.accessToken }));
    expect(res.result).toBe("fresh");
    expect(alerts).toContain("Failed to persist refreshed token");
    expect(storeErrors).toContain("save");
    expect((await store.inner.load("p/cred"))?.refreshToken).not.toBe("rt-rotated");
    await vi.advanceTimersByTimeAsync(1_000); // retry 1 fails
    await vi.advanceTimersByTimeAsync(2_000); // retry 2 lands
    expect((await store.inner.load("p/cred"))?.refreshToken).toBe("rt-rotated");
    await m.close();
  });

  it("a store that never answers: ready() rejects, requests go on from memory", async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const store = new FlakyStore();
    store.hangLoads = true;
    const m = new OAuthKeyManager("p", [{ id: "cred", accessToken: "configured" }], undefined, {
      store,
      storeTimeoutMs: 2_000,
      logger: quiet,
    });
    const storeErrors: string[] = [];
    m.on("store_error", (e) => storeErrors.push(e.operation));
    const ready = m.ready().catch((e: unknown) => e);
    const request = m.executeWithFailover(async (c) => ({ result: c.accessToken }));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await ready).toBeInstanceOf(StoreError);
    expect((await request).result).toBe("configured");
    expect(storeErrors).toEqual(["load"]);
    await m.close();
  });

  it("a corrupt store file: ready() names the file, requests still work", async () => {
    const path = join(dir, "tokens.json");
    await writeFile(path, '{"version":1,"tokens":{"p/cred":', { mode: 0o600 });
    const store = new FileTokenStore({ path, logger: quiet });
    const m = new OAuthKeyManager("p", [{ id: "cred", accessToken: "configured" }], undefined, {
      store,
      logger: quiet,
    });
    await expect(m.ready()).rejects.toThrow(path);
    expect((await m.executeWithFailover(async (c) => ({ result: c.accessToken }))).result).toBe(
      "configured",
    );
    await m.close();
    await store.close();
  });
});

describe("invalid_grant after a rotation elsewhere", () => {
  it("re-reads the store and uses the other process's token instead of declaring the credential dead", async () => {
    const store = new MemoryTokenStore();
    let calls = 0;
    const m = new OAuthKeyManager(
      "p",
      [{ id: "cred", accessToken: "", refreshToken: "rt-old" }],
      async () => {
        calls++;
        // another host rotated the token between our read and our refresh call
        await store.save("p/cred", {
          accessToken: "theirs",
          refreshToken: "rt-theirs",
          expiresAt: new Date(Date.now() + 3_600_000),
          lastRefresh: new Date(),
        });
        throw Object.assign(new Error("invalid_grant"), {
          oauthError: "invalid_grant",
          status: 400,
        });
      },
      { store, logger: quiet },
    );
    const res = await m.executeWithFailover(async (c) => ({ result: c.accessToken }));
    expect(res.result).toBe("theirs");
    expect(calls).toBe(1);
    expect(m.getCredentialHealthInfo("cred")?.state).toBe("healthy");
    await m.close();
  });
});
