/**
 * Rotation with grace periods, background upkeep and close(), under fake timers: the manager's
 * clock is the faked Date.now, so timers and time decisions move together.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_TIMER_DELAY_MS } from "../clock.js";
import { RotationError } from "../errors.js";
import { MemoryTokenStore } from "../stores/memory-store.js";
import type { OAuthCredentialSet, RefreshFunc, RotationPolicy } from "../types.js";
import { OAuthKeyManager } from "./oauth-key-manager.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);
const quiet = { warn: vi.fn(), error: vi.fn() };

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});

afterEach(() => {
  vi.useRealTimers();
});

const ok = async (cred: Readonly<OAuthCredentialSet>) => ({ result: cred.id });

function policy(over: Partial<RotationPolicy> = {}): RotationPolicy {
  return {
    enabled: true,
    rotationInterval: 30 * DAY,
    gracePeriod: 7 * DAY,
    autoDecommission: true,
    ...over,
  };
}

function make(ids: string[], refresh?: RefreshFunc, expiresIn = 365 * DAY) {
  return new OAuthKeyManager(
    "P",
    ids.map((id) => ({
      id,
      accessToken: `at-${id}`,
      refreshToken: `rt-${id}`,
      expiresAt: new Date(T0 + expiresIn),
    })),
    refresh,
    { logger: quiet },
  );
}

describe("rotation", () => {
  it("checkRotationNeeded is [] when disabled, and lists credentials past the interval", () => {
    const m = make(["a", "b"]);
    vi.advanceTimersByTime(31 * DAY);
    expect(m.checkRotationNeeded()).toEqual([]);
    m.setRotationPolicy(policy());
    expect(m.checkRotationNeeded()).toEqual(["a", "b"]);
  });

  it("a marked credential and its replacement both serve during the grace period", async () => {
    const m = make(["old", "other"]);
    m.setRotationPolicy(policy());
    const rotation = vi.fn();
    m.on("rotation", rotation);
    await m.markForRotation("old", { id: "new", accessToken: "at-new" });
    expect(rotation).toHaveBeenCalledWith({
      credentialId: "old",
      replacementId: "new",
      decommissionAt: new Date(T0 + 7 * DAY),
    });
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await m.executeWithFailover(ok)).credentialId);
    expect(ids).toEqual(["old", "other", "new", "old", "other", "new"]);
    expect(m.getRotationState("old")).toEqual({
      createdAt: new Date(T0),
      markedForRotation: true,
      rotationStartedAt: new Date(T0),
      replacementId: "new",
      decommissionAt: new Date(T0 + 7 * DAY),
    });
    await expect(m.markForRotation("old", { id: "x", accessToken: "y" })).rejects.toThrow(
      "credential old is already marked for rotation",
    );
    await expect(m.markForRotation("ghost", { id: "x", accessToken: "y" })).rejects.toThrow(
      "credential ghost not found",
    );
  });

  it("completeRotation before the grace period fails naming the decommission time", async () => {
    const m = make(["old"]);
    m.setRotationPolicy(policy());
    await m.markForRotation("old", { id: "new", accessToken: "n" });
    const err = await m.completeRotation("old").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RotationError);
    expect((err as Error).message).toBe(
      "grace period for credential old has not yet elapsed (decommission at 2026-01-08T00:00:00Z)",
    );
    await expect(m.completeRotation("new")).rejects.toThrow(
      "credential new is not marked for rotation",
    );
  });

  it("after the grace period the upkeep decommissions by itself; metrics and health go with it", async () => {
    const m = make(["old"]);
    const onDecommission = vi.fn();
    m.setRotationPolicy(policy({ onDecommission }));
    const decommission = vi.fn();
    m.on("decommission", decommission);
    await m.executeWithFailover(ok);
    await m.markForRotation("old", { id: "new", accessToken: "n" });
    m.start();
    await vi.advanceTimersByTimeAsync(7 * DAY - 1000);
    expect(m.getCredentialMetrics("old")?.requestCount).toBe(1);
    await vi.advanceTimersByTimeAsync(2000);
    expect(onDecommission).toHaveBeenCalledWith("old");
    expect(decommission).toHaveBeenCalledWith({ credentialId: "old" });
    expect(m.getCredentials().map((c) => c.id)).toEqual(["new"]);
    expect(m.getCredentialMetrics("old")).toBeUndefined();
    expect(m.getCredentialHealthInfo("old")).toBeUndefined();
    expect(m.getRotationState("old")).toBeUndefined();
    await m.close();
  });

  it("a failing onDecommission keeps the credential and reports the error", async () => {
    const m = make(["old"]);
    m.setRotationPolicy(
      policy({
        onDecommission: () => {
          throw new Error("archive unreachable");
        },
      }),
    );
    await m.markForRotation("old", { id: "new", accessToken: "n" });
    vi.advanceTimersByTime(7 * DAY);
    await expect(m.completeRotation("old")).rejects.toThrow(
      "decommission callback failed for old: archive unreachable",
    );
    expect(m.getCredentials().map((c) => c.id)).toEqual(["old", "new"]);
    expect(await m.autoDecommissionExpired()).toEqual([]);
  });

  it("the upkeep calls onRotationNeeded once per credential, at 30 days and not before", async () => {
    const timeouts = vi.spyOn(globalThis, "setTimeout");
    const m = make(["a", "b"]);
    const onRotationNeeded = vi.fn();
    m.setRotationPolicy(policy({ onRotationNeeded }));
    m.start();
    await vi.advanceTimersByTimeAsync(30 * DAY - 1000);
    expect(onRotationNeeded).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(2000);
    expect(onRotationNeeded.mock.calls).toEqual([["a"], ["b"]]);
    await vi.advanceTimersByTimeAsync(10 * DAY);
    expect(onRotationNeeded).toHaveBeenCalledTimes(2);
    // no delay above 2^31−1 ms ever reached setTimeout (Node would fire it after 1 ms)
    for (const call of timeouts.mock.calls)
      expect(Number(call[1] ?? 0)).toBeLessThanOrEqual(MAX_TIMER_DELAY_MS);
    await m.close();
  });
});

describe("proactive refresh", () => {
  it("refreshes shortly before the buffer, so requests never wait for it", async () => {
    let calls = 0;
    let release: (() => void) | undefined;
    const refresh: RefreshFunc = async (cred) => {
      calls++;
      await new Promise<void>((r) => {
        release = r;
      });
      return { ...cred, accessToken: `fresh-${calls}`, expiresAt: new Date(Date.now() + HOUR) };
    };
    const m = make(["a"], refresh, HOUR);
    m.start();
    // the default buffer is 5 min; the upkeep starts at most 60 s before it
    await vi.advanceTimersByTimeAsync(HOUR - 5 * MIN - 61_000);
    expect(calls).toBe(0);
    for (let s = 0; s < 61 && calls === 0; s++) await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(1);
    expect(Date.now()).toBeLessThanOrEqual(T0 + HOUR - 5 * MIN);
    // while the proactive refresh is in flight, requests go on with the still-valid token
    const during = await m.executeWithFailover(async (cred) => ({ result: cred.accessToken }));
    expect(during.result).toBe("at-a");
    release?.();
    await vi.advanceTimersByTimeAsync(0);
    const after = await m.executeWithFailover(async (cred) => ({ result: cred.accessToken }));
    expect(after.result).toBe("fresh-1");
    expect(calls).toBe(1);
    await m.close();
  });

  it("spreads a pool's refreshes over the lead instead of one instant", async () => {
    const times: number[] = [];
    const refresh: RefreshFunc = async (cred) => {
      times.push(Date.now());
      return { ...cred, accessToken: "x", expiresAt: new Date(Date.now() + HOUR) };
    };
    const m = make(
      Array.from({ length: 20 }, (_, i) => `c${i}`),
      refresh,
      HOUR,
    );
    m.start();
    await vi.advanceTimersByTimeAsync(HOUR - 5 * MIN);
    expect(times).toHaveLength(20);
    expect(new Set(times).size).toBeGreaterThan(5);
    for (const t of times) expect(t).toBeLessThanOrEqual(T0 + HOUR - 5 * MIN);
    await m.close();
  });

  it("a failing proactive refresh is retried with spacing, not in a loop", async () => {
    let calls = 0;
    const m = make(
      ["a"],
      async () => {
        calls++;
        throw new Error("down");
      },
      HOUR,
    );
    m.start();
    await vi.advanceTimersByTimeAsync(HOUR - 5 * MIN - 60_000);
    expect(calls).toBe(0);
    // ten minutes of a dead token endpoint: retried with growing spacing (10 s, 20 s, … then the
    // refresh track's 60 s+ backoff), where a loop would have made hundreds of calls
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(calls).toBeLessThanOrEqual(12);
    await m.close();
  });
});

describe("close", () => {
  it("stops every timer; close twice is harmless; calls after close fail clearly", async () => {
    const m = make(["a"], async (c) => c, HOUR);
    m.setRotationPolicy(policy());
    m.start();
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    await m.close();
    expect(vi.getTimerCount()).toBe(0);
    await m.close();
    await expect(m.executeWithFailover(ok)).rejects.toThrow("OAuthKeyManager for P is closed");
    expect(() => m.start()).toThrow("is closed");
  });

  it("await using closes the manager", async () => {
    let leaked: OAuthKeyManager | undefined;
    {
      await using m = make(["a"]);
      m.start();
      leaked = m;
    }
    expect(vi.getTimerCount()).toBe(0);
    await expect(leaked.getNextCredential()).rejects.toMatchObject({ code: "CLOSED" });
  });
});

describe("state per credential leaves with the credential", () => {
  it("a credential removed and added again starts with fresh rotation state", async () => {
    const m = make(["old"]);
    m.setRotationPolicy(policy());
    await m.markForRotation("old", { id: "new", accessToken: "n" });
    expect(m.getRotationState("old")?.markedForRotation).toBe(true);
    expect(m.removeCredential("old")).toBe(true);
    expect(m.getRotationState("old")).toBeUndefined();
    vi.advanceTimersByTime(DAY);
    m.addCredential({ id: "old", accessToken: "again" });
    expect(m.getRotationState("old")).toEqual({
      createdAt: new Date(T0 + DAY),
      markedForRotation: false,
    });
    expect(m.getCredentialHealthInfo("old")?.markedForRotation).toBe(false);
    await m.close();
  });

  it("a credential removed while its save is retried is never written again", async () => {
    let saves = 0;
    let failing = true;
    const store = new MemoryTokenStore();
    const save = store.save.bind(store);
    store.save = async (key, token) => {
      saves++;
      if (failing) throw new Error("disk full");
      return save(key, token);
    };
    const m = new OAuthKeyManager("P", [{ id: "a", accessToken: "t" }], undefined, {
      logger: quiet,
      store,
    });
    await m.ready();
    await vi.advanceTimersByTimeAsync(0);
    const before = saves;
    expect(before).toBeGreaterThan(0);
    m.removeCredential("a");
    failing = false;
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(saves).toBe(before);
    await m.close();
  });
});
