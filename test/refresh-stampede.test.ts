/**
 * Single-flight refresh against a real token endpoint on 127.0.0.1: however many requests find
 * the token expired, the endpoint is called once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FailoverExhaustedError, RefreshError } from "../src/errors.js";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { startTokenServer, type TokenServer } from "./support/token-server.js";

const quiet = { warn() {}, error() {} };
let server: TokenServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("refresh stampede", () => {
  it("10,000 concurrent calls on an expired credential: 1 token request, 10,000 successes", async () => {
    server = await startTokenServer({ delayMs: 20 });
    server.allow("rt-0");
    const manager = new OAuthKeyManager(
      "P",
      [
        {
          id: "only",
          accessToken: "stale",
          refreshToken: "rt-0",
          expiresAt: new Date(Date.now() - 1000),
        },
      ],
      server.refreshFunc(),
      { logger: quiet },
    );
    const tokens = new Set<string>();
    const results = await Promise.allSettled(
      Array.from({ length: 10_000 }, () =>
        manager.executeWithFailover(async (cred) => {
          tokens.add(cred.accessToken);
          return { result: cred.id };
        }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(10_000);
    expect(server.calls).toBe(1);
    expect([...tokens]).toEqual(["at-1"]);
    expect(server.unexpected).toEqual([]);
    // the shared promise was cleared: a forced refresh makes a new request
    await manager.refreshCredential("only", { force: true });
    expect(server.calls).toBe(2);
    await manager.close();
  });

  it("a failed shared refresh rejects every waiter with the same error, then is cleared", async () => {
    server = await startTokenServer({ delayMs: 20 });
    server.allow("rt-0");
    server.failNext(1, 503, "temporarily_unavailable");
    const manager = new OAuthKeyManager(
      "P",
      [{ id: "only", accessToken: "", refreshToken: "rt-0" }],
      server.refreshFunc(),
      { logger: quiet },
    );
    const results = await Promise.allSettled(
      Array.from({ length: 1_000 }, () => manager.executeWithFailover(async () => ({ result: 1 }))),
    );
    const errors = results.map((r) => (r.status === "rejected" ? r.reason : undefined));
    expect(errors.every((e) => e instanceof FailoverExhaustedError)).toBe(true);
    const causes = new Set(errors.map((e) => (e as FailoverExhaustedError).cause));
    expect(causes.size).toBe(1);
    expect([...causes][0]).toBeInstanceOf(RefreshError);
    expect(server.calls).toBe(1);
    // cleared after the failure: the next call refreshes again, and succeeds
    const ok = await manager.executeWithFailover(async (cred) => ({ result: cred.accessToken }));
    expect(ok.result).toBe("at-1");
    expect(server.calls).toBe(2);
    await manager.close();
  });

  it("a refresh failure fails over to a healthy credential", async () => {
    server = await startTokenServer();
    const manager = new OAuthKeyManager(
      "P",
      [
        { id: "dead", accessToken: "", refreshToken: "unknown-token" },
        {
          id: "live",
          accessToken: "ok",
          refreshToken: "rt-x",
          expiresAt: new Date(Date.now() + 3_600_000),
        },
      ],
      server.refreshFunc(),
      { logger: quiet },
    );
    const res = await manager.executeWithFailover(async (cred) => ({ result: cred.id }));
    expect(res).toMatchObject({ credentialId: "live", attempts: 2 });
    expect(manager.getCredentialHealthInfo("dead")?.state).toBe("needs_reauth");
    await manager.close();
  });
});
