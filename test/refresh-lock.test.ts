/**
 * The store's refresh lock: a lock that cannot be taken at all (a read-only or forbidden lock
 * directory) is a store failure, so the refresh goes on from memory with an alert; a lock another
 * holder keeps is contention, so no refresh is made beside it.
 */
import * as nodeFs from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isLockTimeoutError, LockTimeoutError, RefreshError } from "../src/errors.js";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { FileTokenStore } from "../src/stores/file-store.js";
import { MemoryTokenStore } from "../src/stores/memory-store.js";
import type { TokenStore } from "../src/stores/types.js";
import type { OAuthCredentialSet } from "../src/types.js";

const quiet = { warn() {}, error() {} };
const HOUR = 3_600_000;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "oauthmanager-lock-"));
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

/** A stored record that is due for refresh, so every process reading the store must refresh. */
async function seedExpired(store: TokenStore): Promise<void> {
  await store.save("P/a", {
    accessToken: "stored-expired",
    refreshToken: "rt-stored",
    expiresAt: new Date(Date.now() - 1000),
    lastRefresh: new Date(Date.now() - HOUR),
  });
}

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: operation not permitted, mkdir '/tokens'`), { code });
}

function managerOn(store: TokenStore) {
  let calls = 0;
  const m = new OAuthKeyManager(
    "P",
    [{ id: "a", accessToken: "configured-expired", refreshToken: "rt-0", expiresAt: new Date(0) }],
    async (c: Readonly<OAuthCredentialSet>) => {
      calls++;
      return { ...c, accessToken: `fresh-${calls}`, expiresAt: new Date(Date.now() + HOUR) };
    },
    { store, logger: quiet, refreshTimeoutMs: 1_000 },
  );
  m.setMonitoringConfig();
  const alerts: { message: string; reason: unknown }[] = [];
  const storeErrors: string[] = [];
  m.on("alert", (a) => alerts.push({ message: a.message, reason: a.details?.reason }));
  m.on("store_error", (e) => storeErrors.push(e.operation));
  return { m, alerts, storeErrors, calls: () => calls };
}

/** The manager's count of refreshes made without the store's lock, from its Prometheus text. */
async function unlockedRefreshes(m: OAuthKeyManager): Promise<number | undefined> {
  const text = await m.exportPrometheusText();
  const line = text
    .split("\n")
    .find((l) => l.startsWith('oauthmanager_unlocked_refreshes_total{provider="P"} '));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

describe("a store that can be read but not locked", () => {
  it("a FileTokenStore on a directory turned read-only refreshes from memory and alerts", async () => {
    const file = join(dir, "tokens.json");
    await seedExpired(new FileTokenStore({ path: file }));
    let readOnly = false;
    // Root ignores chmod, so the read-only file system is injected: every mkdir (the lock
    // directory's and the directory check before it) fails once the store is up.
    const fs = {
      ...nodeFs,
      mkdir: ((...args: Parameters<typeof nodeFs.mkdir>) =>
        readOnly
          ? Promise.reject(errnoError("EROFS"))
          : nodeFs.mkdir(...args)) as typeof nodeFs.mkdir,
    };
    const store = new FileTokenStore({ path: file, fs, logger: quiet });
    const { m, alerts, storeErrors, calls } = managerOn(store);
    await m.ready();
    readOnly = true;

    const res = await m.executeWithFailover(async (c) => ({ result: c.accessToken }));

    expect(res.result).toBe("fresh-1");
    expect(calls()).toBe(1);
    expect(storeErrors).toContain("lock");
    expect(alerts).toContainEqual({
      message: "Token store unavailable",
      reason: "store_unavailable",
    });
    // the refreshed token is served from memory from now on
    expect((await m.executeWithFailover(async (c) => ({ result: c.accessToken }))).result).toBe(
      "fresh-1",
    );
    expect(calls()).toBe(1);
    await m.close();
    await store.close();
  });

  it.each(["EACCES", "EPERM", "EROFS"])(
    "a store whose withLock rejects with %s refreshes from memory and alerts",
    async (code) => {
      const inner = new MemoryTokenStore();
      await seedExpired(inner);
      const store: TokenStore = {
        load: (key) => inner.load(key),
        loadAll: (prefix) => inner.loadAll(prefix),
        save: (key, token) => inner.save(key, token),
        delete: (key) => inner.delete(key),
        withLock: () => Promise.reject(errnoError(code)),
        close: () => inner.close(),
      };
      const { m, alerts, storeErrors, calls } = managerOn(store);
      await m.ready();

      const res = await m.executeWithFailover(async (c) => ({ result: c.accessToken }));

      expect(res.result).toBe("fresh-1");
      expect(calls()).toBe(1);
      expect(storeErrors).toEqual(["lock"]);
      expect(alerts.map((a) => a.message)).toEqual(["Token store unavailable"]);
      expect(await unlockedRefreshes(m)).toBe(1);
      // the store still takes writes: the refreshed token reached it
      expect((await inner.load("P/a"))?.accessToken).toBe("fresh-1");
      await m.close();
    },
  );
});

describe("a lock held by another process", () => {
  it("no refresh beside it: the refresh fails and the refresh function is not called", async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const store = new MemoryTokenStore();
    await seedExpired(store);
    const { m, storeErrors, calls } = managerOn(store);
    await m.ready();
    let release!: () => void;
    const held = store.withLock("P/a", () => new Promise<void>((r) => (release = r)));

    const outcome = m
      .executeWithFailover(async (c) => ({ result: c.accessToken }))
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    await vi.advanceTimersByTimeAsync(60_000);
    const err = (await outcome) as { errors?: unknown[] };

    expect(calls()).toBe(0);
    expect(storeErrors).toEqual([]);
    // waiting for a holder is not refreshing without the lock
    expect(await unlockedRefreshes(m)).toBe(0);
    const last = err.errors?.at(-1);
    expect(last).toBeInstanceOf(RefreshError);
    expect((last as RefreshError).message).toContain("another process holds the refresh lock");
    release();
    await held;
    await m.close();
  });

  it("and its token is used once it has refreshed", async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const store = new MemoryTokenStore();
    await seedExpired(store);
    const { m, calls } = managerOn(store);
    await m.ready();
    const held = store.withLock("P/a", async () => {
      await new Promise((r) => setTimeout(r, 60_000));
    });
    const outcome = m.executeWithFailover(async (c) => ({ result: c.accessToken }));
    // the other process refreshes under its lock and keeps the lock past our wait
    await store.save("P/a", {
      accessToken: "theirs",
      refreshToken: "rt-theirs",
      expiresAt: new Date(Date.now() + HOUR),
      lastRefresh: new Date(Date.now()),
    });
    await vi.advanceTimersByTimeAsync(60_000);

    expect((await outcome).result).toBe("theirs");
    expect(calls()).toBe(0);
    await held;
    await m.close();
  });
});

describe("stores tell a busy lock from a broken one", () => {
  it("FileTokenStore rejects with LockTimeoutError while another instance holds the lock", async () => {
    const file = join(dir, "tokens.json");
    const holder = new FileTokenStore({ path: file });
    const waiter = new FileTokenStore({ path: file });
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const held = holder.withLock("k", () => {
      locked();
      return new Promise<void>((r) => (release = r));
    });
    await isLocked;
    const err = await waiter.withLock("k", async () => {}, { timeoutMs: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(isLockTimeoutError(err)).toBe(true);
    release();
    await held;
  });

  it("MemoryTokenStore rejects with LockTimeoutError while the lock is held", async () => {
    const store = new MemoryTokenStore();
    let release!: () => void;
    const held = store.withLock("k", () => new Promise<void>((r) => (release = r)));
    const err = await store.withLock("k", async () => {}, { timeoutMs: 10 }).catch((e) => e);
    expect(isLockTimeoutError(err)).toBe(true);
    release();
    await held;
  });

  it("a lock directory that cannot be made is not a lock timeout", async () => {
    const file = join(dir, "tokens.json");
    let readOnly = false;
    const fs = {
      ...nodeFs,
      mkdir: ((...args: Parameters<typeof nodeFs.mkdir>) =>
        readOnly
          ? Promise.reject(errnoError("EROFS"))
          : nodeFs.mkdir(...args)) as typeof nodeFs.mkdir,
    };
    const store = new FileTokenStore({ path: file, fs });
    await store.load("k");
    readOnly = true;
    const err = await store.withLock("k", async () => {}, { timeoutMs: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(isLockTimeoutError(err)).toBe(false);
  });
});
