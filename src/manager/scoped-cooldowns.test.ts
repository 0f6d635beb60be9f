import { describe, expect, it } from "vitest";
import { CredentialsUnavailableError, FailoverExhaustedError } from "../errors.js";
import { KeyManager } from "./key-manager.js";
import { OAuthKeyManager } from "./oauth-key-manager.js";
import { clock, creds, httpError, ok } from "./test-support/requests.js";

const rateLimited = (seconds: number) => async () => {
  throw httpError(429, { "retry-after": String(seconds) });
};

describe("scoped cooldowns", () => {
  it("a 429 under a scope cools the credential in that scope only", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now });
    await expect(
      m.executeWithFailover(rateLimited(60), { scope: "pro", maxAttempts: 1 }),
    ).rejects.toBeInstanceOf(FailoverExhaustedError);
    // Under "pro" only c1 serves; under "flash" and without a scope both still do.
    const pro = [];
    for (let i = 0; i < 4; i++)
      pro.push((await m.executeWithFailover(ok, { scope: "pro" })).result);
    expect(pro).toEqual(["c1", "c1", "c1", "c1"]);
    const flash = [];
    for (let i = 0; i < 4; i++) {
      flash.push((await m.executeWithFailover(ok, { scope: "flash" })).result);
    }
    expect(new Set(flash)).toEqual(new Set(["c0", "c1"]));
    const unscoped = [];
    for (let i = 0; i < 4; i++) unscoped.push((await m.executeWithFailover(ok)).result);
    expect(new Set(unscoped)).toEqual(new Set(["c0", "c1"]));
    expect(m.getCredentialHealthInfo("c0")).toMatchObject({ state: "healthy", failureCount: 0 });
    // Its Retry-After over, c0 serves "pro" again.
    c.advance(60_000);
    const back = [];
    for (let i = 0; i < 4; i++)
      back.push((await m.executeWithFailover(ok, { scope: "pro" })).result);
    expect(new Set(back)).toEqual(new Set(["c0", "c1"]));
    await m.close();
  });

  it("a failure of the credential itself stays pool-wide under a scope", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now });
    for (const status of [503, 403]) {
      await expect(
        m.executeWithFailover(
          async () => {
            throw httpError(status);
          },
          { scope: "pro", maxAttempts: 1 },
        ),
      ).rejects.toBeInstanceOf(FailoverExhaustedError);
    }
    expect(m.getCredentialHealthInfo("c0")?.state).toBe("cooling");
    expect(m.getCredentialHealthInfo("c1")?.state).toBe("cooling");
    await expect(m.executeWithFailover(ok, { scope: "flash" })).rejects.toBeInstanceOf(
      CredentialsUnavailableError,
    );
    expect(m.getHealthSummary().scopedCooldowns).toBeUndefined();
    await m.close();
  });

  it("an unscoped 429 stays pool-wide, as without scopes", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now });
    await expect(m.executeWithFailover(rateLimited(30), { maxAttempts: 1 })).rejects.toThrow();
    expect(m.getCredentialHealthInfo("c0")?.backoffUntil?.getTime()).toBe(c.now() + 30_000);
    expect((await m.executeWithFailover(ok, { scope: "pro" })).result).toBe("c1");
    await m.close();
  });

  it("a scope with every credential cooling says when the soonest comes back", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now });
    await expect(
      m.executeWithFailover(
        async (cred) => {
          throw httpError(429, { "retry-after": cred.id === "c0" ? "50" : "20" });
        },
        { scope: "pro" },
      ),
    ).rejects.toMatchObject({ retryAfterMs: 20_000 });
    const err = await m.executeWithFailover(ok, { scope: "pro" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsUnavailableError);
    expect((err as CredentialsUnavailableError).retryAfterMs).toBe(20_000);
    expect((await m.executeWithFailover(ok, { scope: "flash" })).attempts).toBe(1);
    await m.close();
  });

  it("without a Retry-After, cooldowns in a scope step up like the pool's backoff", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(1), undefined, { now: c.now });
    const fail = () =>
      m.executeWithFailover(
        async () => {
          throw httpError(429);
        },
        { scope: "pro" },
      );
    await expect(fail()).rejects.toThrow();
    expect(m.getHealthSummary().scopedCooldowns?.pro?.c0?.getTime()).toBe(c.now() + 1_000);
    c.advance(1_000);
    await expect(fail()).rejects.toThrow();
    expect(m.getHealthSummary().scopedCooldowns?.pro?.c0?.getTime()).toBe(c.now() + 2_000);
    // A success under the scope starts the ladder again.
    c.advance(2_000);
    await m.executeWithFailover(ok, { scope: "pro" });
    await expect(fail()).rejects.toThrow();
    expect(m.getHealthSummary().scopedCooldowns?.pro?.c0?.getTime()).toBe(c.now() + 1_000);
    await m.close();
  });

  it("the health summary, exportJSON and the Prometheus text show them", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now });
    const seen: (string | undefined)[] = [];
    m.on("failure", (e) => seen.push(e.scope));
    await expect(
      m.executeWithFailover(rateLimited(60), { scope: "gemini-2.5-pro", maxAttempts: 1 }),
    ).rejects.toThrow();
    expect(seen).toEqual(["gemini-2.5-pro"]);
    const until = new Date(c.now() + 60_000);
    expect(m.getHealthSummary().scopedCooldowns).toEqual({ "gemini-2.5-pro": { c0: until } });
    expect(JSON.parse(m.exportJSON()).scoped_cooldowns).toEqual({
      "gemini-2.5-pro": { c0: until.toISOString() },
    });
    const text = await m.exportPrometheusText();
    expect(text).toContain(
      'oauthmanager_scope_cooling_credentials{provider="p",scope="gemini-2.5-pro"} 1',
    );
    c.advance(60_000);
    expect(m.getHealthSummary().scopedCooldowns).toBeUndefined();
    expect(await m.exportPrometheusText()).not.toContain("scope=");
    await m.close();
  });

  it("keeps at most maxScopes scopes, and exports at most 50", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now, maxScopes: 60 });
    for (let i = 0; i < 100; i++) {
      await expect(
        m.executeWithFailover(rateLimited(600), { scope: `model-${i}`, maxAttempts: 1 }),
      ).rejects.toThrow();
    }
    const scoped = m.getHealthSummary().scopedCooldowns ?? {};
    expect(Object.keys(scoped)).toHaveLength(50);
    // The most recently cooled first; the oldest 40 were forgotten, so they serve at once.
    expect(Object.keys(scoped)[0]).toBe("model-99");
    const text = await m.exportPrometheusText();
    expect(text.match(/oauthmanager_scope_cooling_credentials\{/g)).toHaveLength(50);
    const first = await m.executeWithFailover(ok, { scope: "model-0" });
    expect(first.attempts).toBe(1);
    await m.close();
  });

  it("a removed credential leaves its scopes", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now });
    await expect(
      m.executeWithFailover(rateLimited(60), { scope: "pro", maxAttempts: 1 }),
    ).rejects.toThrow();
    m.removeCredential("c0");
    expect(m.getHealthSummary().scopedCooldowns).toBeUndefined();
    m.addCredential({ id: "c2", accessToken: "t2" });
    const ids = new Set<string>();
    for (let i = 0; i < 4; i++) ids.add((await m.executeWithFailover(ok, { scope: "pro" })).result);
    expect(ids).toEqual(new Set(["c1", "c2"]));
    await m.close();
  });

  it("selection under a scope with 990 of 1,000 credentials cooling there serves the other 10 in turn", async () => {
    const c = clock();
    const n = 1_000;
    const m = new OAuthKeyManager("p", creds(n), undefined, { now: c.now });
    const keep = (id: string) => Number(id.slice(1)) % 100 === 0;
    // Each call is turned away (429) by every credential but the 10 kept, and fails over to
    // the next until one of those serves it (the first call is served by c0 at once).
    for (let i = 0; i < 11; i++) {
      await m.executeWithFailover(
        async (cred) => {
          if (!keep(cred.id)) throw httpError(429, { "retry-after": "3600" });
          return { result: cred.id };
        },
        { scope: "pro", maxAttempts: n },
      );
    }
    expect(Object.keys(m.getHealthSummary().scopedCooldowns?.pro ?? {})).toHaveLength(990);
    expect(m.getHealthSummary().credentialsInBackoff).toBe(0);
    const served: string[] = [];
    for (let i = 0; i < 20; i++)
      served.push((await m.executeWithFailover(ok, { scope: "pro" })).result);
    expect(new Set(served.slice(0, 10))).toEqual(
      new Set(Array.from({ length: 10 }, (_, i) => `c${i * 100}`)),
    );
    expect(served.slice(10)).toEqual(served.slice(0, 10));
    await m.close();
  });

  it("KeyManager takes the same call options", async () => {
    const c = clock();
    const keys = new KeyManager("p", ["k0", "k1"], { now: c.now });
    await expect(
      keys.executeWithFailover(rateLimited(60), { scope: "pro", maxAttempts: 1 }),
    ).rejects.toThrow();
    expect(
      (await keys.executeWithFailover(async (key) => ({ result: key }), { scope: "pro" })).result,
    ).toBe("k1");
    expect(keys.getHealthSummary().scopedCooldowns).toEqual({
      pro: { "key-1": new Date(c.now() + 60_000) },
    });
    await keys.close();
  });

  it("refuses a scope or session key that is not a non-empty string", async () => {
    const m = new OAuthKeyManager("p", creds(1));
    await expect(m.executeWithFailover(ok, { scope: "" })).rejects.toThrow(TypeError);
    await expect(
      m.executeWithFailover(ok, { sessionKey: 42 as unknown as string }),
    ).rejects.toThrow(/Expected `sessionKey` to be a non-empty string/);
    await m.close();
  });
});
