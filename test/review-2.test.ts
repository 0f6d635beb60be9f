/**
 * Behaviours found wrong in the second review, each pinned by the repro that showed it.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { MemoryTokenStore } from "../src/stores/memory-store.js";
import type { OAuthCredentialSet } from "../src/types.js";

const quiet = { warn() {}, error() {} };
const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

describe("a refresh result that is refused", () => {
  it("still keeps the rotated refresh token it carries, in memory and in the store", async () => {
    let now = T0;
    // A provider that rotates refresh tokens: each one works once.
    let live = "rt-1";
    const used: string[] = [];
    let round = 0;
    const refresh = async (c: Readonly<OAuthCredentialSet>): Promise<OAuthCredentialSet> => {
      used.push(c.refreshToken ?? "");
      if (c.refreshToken !== live) {
        throw Object.assign(new Error("invalid_grant"), { oauthError: "invalid_grant" });
      }
      round++;
      live = `rt-${round + 1}`;
      // The first answer is refused (its access token has expired already), but the server
      // has spent rt-1 and issued rt-2 all the same.
      const expiresAt = new Date(round === 1 ? now - 1 : now + HOUR);
      return { ...c, accessToken: `at-${round}-xxxx`, refreshToken: live, expiresAt };
    };
    const store = new MemoryTokenStore();
    const saved: string[] = [];
    const cred: OAuthCredentialSet = {
      id: "a",
      accessToken: "",
      refreshToken: "rt-1",
      onTokenRefresh: (_id, _at, rt) => {
        saved.push(rt);
      },
    };
    const m = new OAuthKeyManager("P", [cred], refresh, { now: () => now, logger: quiet, store });
    await expect(m.refreshCredential("a", { force: true })).rejects.toThrow(/already expired/);
    expect((await store.load("P/a"))?.refreshToken).toBe("rt-2");
    expect(saved).toEqual(["rt-2"]);
    now += HOUR;
    const fresh = await m.refreshCredential("a", { force: true });
    expect(used).toEqual(["rt-1", "rt-2"]);
    expect(fresh.accessToken).toBe("at-2-xxxx");
    expect(m.getCredentialHealthInfo("a")?.state).not.toBe("needs_reauth");
    await m.close();
  });
});

describe("event listeners", () => {
  it("an async listener that rejects is logged like one that throws, never left unhandled", async () => {
    const logged: unknown[] = [];
    const logger = { warn() {}, error: (...args: unknown[]) => logged.push(args) };
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "", refreshToken: "rt-1" }],
      async (c) => ({ ...c, accessToken: "at-1-xxxx", expiresAt: new Date(T0 + HOUR) }),
      { now: () => T0, logger },
    );
    const boom = new Error("listener failed");
    m.on("refresh", async () => {
      throw boom;
    });
    await m.refreshCredential("a", { force: true });
    await new Promise((resolve) => setImmediate(resolve));
    expect(logged).toEqual([["oauthmanager: a 'refresh' listener threw", boom]]);
    await m.close();
  });
});

describe("a refresh that times out", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("still takes the rotated tokens when the abandoned call answers later", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let now = T0;
    let live = "rt-1";
    const used: string[] = [];
    const answers: ((c: OAuthCredentialSet) => void)[] = [];
    // The token endpoint spends the refresh token at once, but its answer is slow; the refresh
    // function does not honour the signal, as many hand-written ones do not.
    const refresh = (c: Readonly<OAuthCredentialSet>): Promise<OAuthCredentialSet> => {
      used.push(c.refreshToken ?? "");
      if (c.refreshToken !== live) {
        return Promise.reject(
          Object.assign(new Error("invalid_grant"), { oauthError: "invalid_grant" }),
        );
      }
      live = `rt-${used.length + 1}`;
      const issued = { ...c, accessToken: `at-${used.length}-xxxx`, refreshToken: live };
      return new Promise((resolve) =>
        answers.push(() => resolve({ ...issued, expiresAt: new Date(now + HOUR) })),
      );
    };
    const store = new MemoryTokenStore();
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "", refreshToken: "rt-1" }],
      refresh,
      {
        now: () => now,
        logger: quiet,
        store,
        refreshTimeoutMs: 1_000,
      },
    );
    const first = m.refreshCredential("a", { force: true });
    const refused = expect(first).rejects.toThrow(/timed out/);
    await vi.advanceTimersByTimeAsync(1_000);
    await refused;
    answers[0]?.({} as OAuthCredentialSet);
    await vi.advanceTimersByTimeAsync(0);
    expect(m.getCredentials()[0]?.accessToken).toBe("at-1-xxxx");
    expect((await store.load("P/a"))?.refreshToken).toBe("rt-2");
    now += HOUR;
    const second = m.refreshCredential("a", { force: true });
    await vi.advanceTimersByTimeAsync(0);
    answers[1]?.({} as OAuthCredentialSet);
    expect((await second).accessToken).toBe("at-2-xxxx");
    expect(used).toEqual(["rt-1", "rt-2"]);
    await m.close();
  });
});
