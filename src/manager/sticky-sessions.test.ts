import { describe, expect, it } from "vitest";
import { StickySessions } from "../selection/sticky-sessions.js";
import { KeyManager } from "./key-manager.js";
import { OAuthKeyManager } from "./oauth-key-manager.js";
import { clock, creds, httpError, ok } from "./test-support/requests.js";

describe("StickySessions", () => {
  it("forgets a key unused for its TTL; a hit counts as a use", () => {
    const s = new StickySessions<string>(2, 1_000);
    s.set("a", "c0", 0);
    s.set("b", "c1", 0);
    expect(s.get("a", 999)).toBe("c0"); // a use: a's TTL starts again
    expect(s.get("b", 1_000)).toBeUndefined();
    expect(s.get("a", 1_998)).toBe("c0");
    expect(s.get("a", 2_998)).toBeUndefined();
  });

  it("forgets the least recently used key beyond its size, recency kept to the second", () => {
    const s = new StickySessions<string>(2, 60_000);
    s.set("a", "c0", 3_000);
    s.set("b", "c1", 3_000);
    expect(s.get("a", 3_500)).toBe("c0");
    s.set("c", "c2", 3_600); // used within the same second, a still counts as the oldest: it goes
    expect(s.size).toBe(2);
    expect(s.get("a", 3_700)).toBeUndefined();
    s.set("a", "c0", 3_700); // b goes
    expect(s.get("c", 4_800)).toBe("c2"); // a second on: c moves past a
    s.set("d", "c3", 4_800); // a goes
    expect(s.get("a", 4_900)).toBeUndefined();
    expect(s.get("c", 4_900)).toBe("c2");
    expect(s.get("d", 4_900)).toBe("c3");
  });

  it("a key looked up last and then evicted or expired is gone, and comes back as new", () => {
    const s = new StickySessions<string>(1, 1_000);
    s.set("a", "c0", 0);
    expect(s.get("a", 10)).toBe("c0");
    s.set("b", "c1", 20); // a goes
    expect(s.get("a", 30)).toBeUndefined();
    expect(s.get("b", 1_020)).toBeUndefined(); // expired
    s.set("b", "c2", 1_030);
    expect(s.get("b", 1_040)).toBe("c2");
    expect(s.size).toBe(1);
  });
});

describe("sticky sessions", () => {
  it("a session key stays on its credential while it is available", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(3), undefined, { now: c.now });
    const first = (await m.executeWithFailover(ok, { sessionKey: "chat-1" })).result;
    for (let i = 0; i < 5; i++) {
      await m.executeWithFailover(ok); // other traffic moves round-robin on
      expect((await m.executeWithFailover(ok, { sessionKey: "chat-1" })).result).toBe(first);
    }
    await m.close();
  });

  it("moves the moment its credential cannot serve, and sticks to the new one", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(3), undefined, { now: c.now });
    expect((await m.executeWithFailover(ok, { sessionKey: "s" })).result).toBe("c0");
    m.reportFailure("c0", httpError(429, { "retry-after": "10" }));
    const moved = (await m.executeWithFailover(ok, { sessionKey: "s" })).result;
    expect(moved).not.toBe("c0");
    c.advance(10_000); // c0 is back, but the session stays where it moved
    for (let i = 0; i < 3; i++) {
      expect((await m.executeWithFailover(ok, { sessionKey: "s" })).result).toBe(moved);
    }
    await m.close();
  });

  it("moves when its credential fails the request, and sticks to the one that served it", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(3), undefined, { now: c.now });
    expect((await m.executeWithFailover(ok, { sessionKey: "s" })).result).toBe("c0");
    const served = await m.executeWithFailover(
      async (cred) => {
        if (cred.id === "c0") throw httpError(503);
        return { result: cred.id };
      },
      { sessionKey: "s" },
    );
    expect(served).toMatchObject({ result: "c1", attempts: 2 });
    expect((await m.executeWithFailover(ok, { sessionKey: "s" })).result).toBe("c1");
    await m.close();
  });

  it("a sticky hit whose token is due is refreshed in place, and the session stays on it", async () => {
    const c = clock();
    const withExpiry = creds(3).map((cred) => ({
      ...cred,
      refreshToken: `r-${cred.id}`,
      expiresAt: new Date(c.now() + 3_600_000),
    }));
    const refreshed: string[] = [];
    const m = new OAuthKeyManager(
      "p",
      withExpiry,
      async (cred) => {
        refreshed.push(cred.id);
        return { ...cred, accessToken: `new-${cred.id}`, expiresAt: new Date(c.now() + 7_200_000) };
      },
      { now: c.now },
    );
    const first = (await m.executeWithFailover(ok, { sessionKey: "s" })).result;
    c.advance(3_590_000); // inside the refresh buffer
    const seen = await m.executeWithFailover(async (cred) => ({ result: cred.accessToken }), {
      sessionKey: "s",
    });
    expect(refreshed).toEqual([first]);
    expect(seen.result).toBe(`new-${first}`);
    expect((await m.executeWithFailover(ok, { sessionKey: "s" })).result).toBe(first);
    await m.close();
  });

  it("moves when its credential cools down in the request's scope", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now });
    expect((await m.executeWithFailover(ok, { sessionKey: "s", scope: "pro" })).result).toBe("c0");
    await expect(
      m.executeWithFailover(
        async () => {
          throw httpError(429, { "retry-after": "60" });
        },
        { sessionKey: "s", scope: "pro", maxAttempts: 1 },
      ),
    ).rejects.toThrow();
    expect((await m.executeWithFailover(ok, { sessionKey: "s", scope: "pro" })).result).toBe("c1");
    // Pool-wide c0 is fine: only the scope turned it away.
    expect(m.getCredentialHealthInfo("c0")?.state).toBe("healthy");
    await m.close();
  });

  it("sticky hits leave the round-robin turn of everyone else untouched", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(3), undefined, { now: c.now });
    await m.executeWithFailover(ok, { sessionKey: "s" }); // c0, turn moves to c1
    const unkeyed: string[] = [];
    for (let i = 0; i < 6; i++) {
      await m.executeWithFailover(ok, { sessionKey: "s" });
      await m.executeWithFailover(ok, { sessionKey: "s" });
      unkeyed.push((await m.executeWithFailover(ok)).result);
    }
    expect(unkeyed).toEqual(["c1", "c2", "c0", "c1", "c2", "c0"]);
    // New sessions spread over the credentials rather than piling on the sticky one.
    const fresh = [];
    for (let i = 0; i < 3; i++) {
      fresh.push((await m.executeWithFailover(ok, { sessionKey: `new-${i}` })).result);
    }
    expect(new Set(fresh)).toEqual(new Set(["c0", "c1", "c2"]));
    await m.close();
  });

  it("forgets a session after its TTL and beyond maxSessions", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(3), undefined, {
      now: c.now,
      sessions: { maxSessions: 2, ttlMs: 60_000 },
    });
    expect((await m.executeWithFailover(ok, { sessionKey: "a" })).result).toBe("c0");
    c.advance(60_000);
    expect((await m.executeWithFailover(ok, { sessionKey: "a" })).result).toBe("c1");
    await m.executeWithFailover(ok, { sessionKey: "b" }); // c2
    await m.executeWithFailover(ok, { sessionKey: "c" }); // c0; "a" is the oldest and goes
    expect((await m.executeWithFailover(ok, { sessionKey: "a" })).result).toBe("c1");
    expect((await m.executeWithFailover(ok, { sessionKey: "c" })).result).toBe("c0");
    await m.close();
  });

  it("a removed credential's sessions move", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now });
    expect((await m.executeWithFailover(ok, { sessionKey: "s" })).result).toBe("c0");
    m.removeCredential("c0");
    expect((await m.executeWithFailover(ok, { sessionKey: "s" })).result).toBe("c1");
    await m.close();
  });

  it("KeyManager sessions stick too", async () => {
    const keys = new KeyManager("p", ["k0", "k1", "k2"]);
    const op = async (key: string) => ({ result: key });
    const first = (await keys.executeWithFailover(op, { sessionKey: "s" })).result;
    await keys.executeWithFailover(op);
    expect((await keys.executeWithFailover(op, { sessionKey: "s" })).result).toBe(first);
    await keys.close();
  });

  it("refuses bad session options", () => {
    expect(
      () => new OAuthKeyManager("p", creds(1), undefined, { sessions: { ttl: 5 } as never }),
    ).toThrow(/Unknown option `sessions.ttl`; did you mean `sessions.ttlMs`\?/);
    expect(
      () => new OAuthKeyManager("p", creds(1), undefined, { sessions: { maxSessions: 0 } }),
    ).toThrow(/Expected `sessions.maxSessions` to be an integer >= 1/);
  });
});
