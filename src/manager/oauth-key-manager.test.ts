import { inspect } from "node:util";
import { describe, expect, it, vi } from "vitest";
import {
  ConfigError,
  CredentialsUnavailableError,
  FailoverExhaustedError,
  NoCredentialsError,
  RefreshError,
} from "../errors.js";
import type { OAuthCredentialSet, RefreshFunc } from "../types.js";
import { OAuthKeyManager } from "./oauth-key-manager.js";
import type { OAuthKeyManagerOptions } from "./options.js";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

function clock(start = T0) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

function creds(n: number, extra: Partial<OAuthCredentialSet> = {}): OAuthCredentialSet[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `c${i + 1}`,
    accessToken: `token-${i + 1}`,
    refreshToken: `refresh-${i + 1}`,
    expiresAt: new Date(T0 + HOUR),
    ...extra,
  }));
}

function httpError(status: number, headers?: Record<string, string>): Error {
  return Object.assign(new Error(`HTTP ${status}`), { status, headers });
}

const ok = async (cred: Readonly<OAuthCredentialSet>) => ({ result: cred.id });

function manager(
  n: number,
  options: OAuthKeyManagerOptions = {},
  refresh?: RefreshFunc,
  extra?: Partial<OAuthCredentialSet>,
) {
  const c = clock();
  const m = new OAuthKeyManager("TestProvider", creds(n, extra), refresh, {
    now: c.now,
    logger: { warn() {}, error() {} },
    ...options,
  });
  return { m, clock: c };
}

describe("selection", () => {
  it("round-robin: the 1st call gets the 1st credential, then the 2nd, and wraps", async () => {
    const { m } = manager(3);
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push((await m.executeWithFailover(ok)).credentialId);
    expect(ids).toEqual(["c1", "c2", "c3", "c1", "c2", "c3", "c1"]);
  });

  it("getNextCredential follows the same order and skips credentials in backoff", async () => {
    const { m } = manager(3);
    expect((await m.getNextCredential()).id).toBe("c1");
    m.reportFailure("c2");
    expect((await m.getNextCredential()).id).toBe("c3");
    expect((await m.getNextCredential()).id).toBe("c1");
  });

  it("fill-first always uses the first available credential", async () => {
    const { m } = manager(3, { selection: "fill-first" });
    expect((await m.executeWithFailover(ok)).credentialId).toBe("c1");
    expect((await m.executeWithFailover(ok)).credentialId).toBe("c1");
    m.reportFailure("c1");
    expect((await m.executeWithFailover(ok)).credentialId).toBe("c2");
  });
});

describe("failover", () => {
  it("fails over to the next credential and succeeds", async () => {
    const { m } = manager(3);
    const seen: string[] = [];
    const res = await m.executeWithFailover(async (cred) => {
      seen.push(cred.id);
      if (cred.id === "c1") throw httpError(503);
      return { result: "ok", usage: { promptTokens: 3, completionTokens: 4 } };
    });
    expect(seen).toEqual(["c1", "c2"]);
    expect(res).toEqual({
      result: "ok",
      usage: { promptTokens: 3, completionTokens: 4 },
      credentialId: "c2",
      attempts: 2,
    });
    expect(m.getCredentialHealthInfo("c1")?.isAvailable).toBe(false);
    expect(m.getCredentialMetrics("c2")?.tokensUsed).toBe(7);
  });

  it("exhaustion names the provider, the attempts and the last error", async () => {
    const { m } = manager(5);
    let n = 0;
    const err = await m
      .executeWithFailover(async () => {
        n++;
        throw new Error(`boom ${n}`);
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailoverExhaustedError);
    const e = err as FailoverExhaustedError;
    expect(e.message).toBe(
      "TestProvider: all 3 OAuth credential failover attempts failed, last error: boom 3",
    );
    expect(e.code).toBe("FAILOVER_EXHAUSTED");
    expect(e.errors.map((x) => (x as Error).message)).toEqual(["boom 1", "boom 2", "boom 3"]);
    expect((e.cause as Error).message).toBe("boom 3");
  });

  it("maxAttempts bounds the credentials tried", async () => {
    const { m } = manager(5);
    const err = await m
      .executeWithFailover(
        async () => {
          throw new Error("down");
        },
        { maxAttempts: 5 },
      )
      .catch((e: unknown) => e);
    expect((err as FailoverExhaustedError).errors).toHaveLength(5);
  });

  it("with one credential, one failure exhausts after 1 attempt", async () => {
    const { m } = manager(1);
    await expect(
      m.executeWithFailover(async () => {
        throw new Error("x");
      }),
    ).rejects.toThrow(
      "TestProvider: all 1 OAuth credential failover attempts failed, last error: x",
    );
  });

  it("a 400 is rethrown as is, without failover or penalty", async () => {
    const { m } = manager(3);
    const bad = httpError(400);
    let calls = 0;
    await expect(
      m.executeWithFailover(async () => {
        calls++;
        throw bad;
      }),
    ).rejects.toBe(bad);
    expect(calls).toBe(1);
    expect(m.getCredentialHealthInfo("c1")).toMatchObject({ failureCount: 0, isAvailable: true });
  });

  it("when every credential is in backoff it fails at once with the soonest retry time", async () => {
    const { m, clock } = manager(2);
    m.reportFailure("c1"); // 1 s
    clock.advance(500);
    m.reportFailure("c2"); // 1 s from now
    const err = await m.executeWithFailover(ok).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsUnavailableError);
    expect((err as CredentialsUnavailableError).message).toBe(
      "all 2 OAuth credentials for TestProvider are currently unavailable",
    );
    expect((err as CredentialsUnavailableError).retryAfterMs).toBe(500);
    await expect(m.getNextCredential()).rejects.toBeInstanceOf(CredentialsUnavailableError);
  });

  it("an empty pool fails with NoCredentialsError", async () => {
    const m = new OAuthKeyManager("Empty", []);
    await expect(m.executeWithFailover(ok)).rejects.toThrow(
      new NoCredentialsError("Empty").message,
    );
    await expect(m.getNextCredential()).rejects.toBeInstanceOf(NoCredentialsError);
  });
});

describe("health and backoff", () => {
  it("backs off 1, 2, 4, 8, 16, 32, then 60 s, and is unhealthy after 3 failures", () => {
    const { m, clock } = manager(1);
    const steps: number[] = [];
    for (let i = 0; i < 9; i++) {
      m.reportFailure("c1");
      const info = m.getCredentialHealthInfo("c1")!;
      steps.push((info.backoffUntil?.getTime() ?? 0) - clock.now());
      if (i === 1) expect(info.isHealthy).toBe(true);
      if (i === 2) expect(info.isHealthy).toBe(false);
      clock.advance(steps[i]!);
    }
    expect(steps).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it("recovers when the backoff passes, and a success clears failures", async () => {
    const { m, clock } = manager(2);
    m.reportFailure("c1");
    expect((await m.executeWithFailover(ok)).credentialId).toBe("c2");
    clock.advance(1000);
    const next = [await m.executeWithFailover(ok), await m.executeWithFailover(ok)];
    expect(next.map((r) => r.credentialId).sort()).toEqual(["c1", "c2"]);
    expect(m.getCredentialHealthInfo("c1")).toMatchObject({
      failureCount: 0,
      isHealthy: true,
      isAvailable: true,
    });
  });

  it("a 429 with Retry-After cools the credential down for that long and moves on", async () => {
    const { m, clock } = manager(2);
    const res = await m.executeWithFailover(async (cred) => {
      if (cred.id === "c1") throw httpError(429, { "retry-after": "120" });
      return { result: 1 };
    });
    expect(res.credentialId).toBe("c2");
    expect(m.getCredentialHealthInfo("c1")?.backoffUntil?.getTime()).toBe(clock.now() + 120_000);
  });

  it("a 429 Retry-After as an HTTP-date is honoured; an absurd one is capped", async () => {
    const { m, clock } = manager(2, { backoff: { maxCooldownMs: 600_000 } });
    const date = new Date(clock.now() + 90_000).toUTCString();
    m.reportFailure("c1", httpError(429, { "Retry-After": date }));
    expect(m.getCredentialHealthInfo("c1")?.backoffUntil?.getTime()).toBe(clock.now() + 90_000);
    m.reportFailure("c2", httpError(429, { "retry-after": "1590000" }));
    expect(m.getCredentialHealthInfo("c2")?.backoffUntil?.getTime()).toBe(clock.now() + 600_000);
  });

  it("a later, shorter cooldown does not shorten an earlier one", () => {
    const { m, clock } = manager(1);
    m.reportFailure("c1", httpError(429, { "retry-after": "300" }));
    m.reportFailure("c1", httpError(429, { "retry-after": "5" }));
    expect(m.getCredentialHealthInfo("c1")?.backoffUntil?.getTime()).toBe(clock.now() + 300_000);
  });

  it("a garbage Retry-After falls back to the backoff step", () => {
    const { m, clock } = manager(1);
    m.reportFailure("c1", httpError(429, { "retry-after": "1000abc" }));
    expect(m.getCredentialHealthInfo("c1")?.backoffUntil?.getTime()).toBe(clock.now() + 1000);
  });

  it("backoff jitter stays within half to all of each step", () => {
    const { m, clock } = manager(1, { backoff: { jitter: true } });
    m.reportFailure("c1");
    m.reportFailure("c1");
    const wait = m.getCredentialHealthInfo("c1")!.backoffUntil!.getTime() - clock.now();
    expect(wait).toBeGreaterThanOrEqual(1000);
    expect(wait).toBeLessThanOrEqual(2000);
  });
});

describe("refresh", () => {
  const refreshed = (now: () => number, calls: { n: number }): RefreshFunc => {
    return async (cred) => {
      calls.n++;
      return { ...cred, accessToken: `fresh-${calls.n}`, expiresAt: new Date(now() + HOUR) };
    };
  };

  it("refreshes a token inside the 5-minute buffer before using it", async () => {
    const calls = { n: 0 };
    const c = clock();
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "old", refreshToken: "r", expiresAt: new Date(T0 + 60_000) }],
      refreshed(c.now, calls),
      { now: c.now },
    );
    const seen: string[] = [];
    const listener = vi.fn();
    m.on("refresh", listener);
    await m.executeWithFailover(async (cred) => {
      seen.push(cred.accessToken);
      return { result: null };
    });
    expect(seen).toEqual(["fresh-1"]);
    expect(calls.n).toBe(1);
    expect(m.getCredentials()[0]).toMatchObject({ refreshCount: 1, lastRefresh: new Date(T0) });
    expect(listener).toHaveBeenCalledWith({
      credentialId: "a",
      expiresAt: new Date(T0 + HOUR),
      refreshCount: 1,
    });
  });

  it("an empty access token with a refresh token is refreshed before first use", async () => {
    const calls = { n: 0 };
    const c = clock();
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "", refreshToken: "r" }],
      refreshed(c.now, calls),
      { now: c.now },
    );
    const res = await m.executeWithFailover(async (cred) => ({ result: cred.accessToken }));
    expect(res.result).toBe("fresh-1");
  });

  it("without a refresh function, a token that needs refresh fails with RefreshError and fails over", async () => {
    const { m } = manager(2);
    m.addCredential({ id: "expired", accessToken: "x", expiresAt: new Date(T0 - 1) });
    m.reportFailure("c1");
    m.reportFailure("c2");
    const err = await m.executeWithFailover(ok).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailoverExhaustedError);
    const last = (err as FailoverExhaustedError).errors[0];
    expect(last).toBeInstanceOf(RefreshError);
    expect((last as Error).message).toBe(
      "failed to refresh OAuth token for credential expired: token refresh not configured for credential expired",
    );
  });

  it("a 401 forces a refresh and retries once on the same credential", async () => {
    const calls = { n: 0 };
    const { m, clock } = manager(2, {}, undefined);
    const m2 = new OAuthKeyManager("P", creds(2), refreshed(clock.now, calls), { now: clock.now });
    void m;
    const seen: string[] = [];
    const res = await m2.executeWithFailover(async (cred) => {
      seen.push(`${cred.id}:${cred.accessToken}`);
      if (cred.accessToken === "token-1") throw httpError(401);
      return { result: "ok" };
    });
    expect(seen).toEqual(["c1:token-1", "c1:fresh-1"]);
    expect(res).toMatchObject({ credentialId: "c1", attempts: 1 });
    expect(calls.n).toBe(1);
    expect(m2.getCredentialHealthInfo("c1")?.failureCount).toBe(0);
  });

  it("a 401 after the refresh is a failure: no second refresh, next credential", async () => {
    const calls = { n: 0 };
    const c = clock();
    const m = new OAuthKeyManager("P", creds(2), refreshed(c.now, calls), { now: c.now });
    const seen: string[] = [];
    const res = await m.executeWithFailover(async (cred) => {
      seen.push(`${cred.id}:${cred.accessToken}`);
      if (cred.id === "c1") throw httpError(401);
      return { result: "ok" };
    });
    expect(seen).toEqual(["c1:token-1", "c1:fresh-1", "c2:token-2"]);
    expect(calls.n).toBe(1);
    expect(res.attempts).toBe(2);
    expect(m.getCredentialHealthInfo("c1")?.failureCount).toBe(1);
  });

  it("a token with no expiry is refreshed only on a 401, once, never in a loop", async () => {
    const calls = { n: 0 };
    const c = clock();
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "t", refreshToken: "r" }],
      async (cred) => {
        calls.n++;
        return { ...cred, accessToken: `t${calls.n}` };
      },
      { now: c.now },
    );
    for (let i = 0; i < 5; i++) await m.executeWithFailover(ok);
    expect(calls.n).toBe(0);
    for (let i = 0; i < 5; i++) {
      c.advance(2_000);
      await m
        .executeWithFailover(async () => {
          throw httpError(401);
        })
        .catch(() => {});
    }
    // one refresh; the later 401s come within the minimum refresh interval
    expect(calls.n).toBe(1);
  });

  it("a 403 or a 429 never spends a refresh", async () => {
    const calls = { n: 0 };
    const c = clock();
    const m = new OAuthKeyManager("P", creds(2), refreshed(c.now, calls), { now: c.now });
    await m
      .executeWithFailover(async (cred) => {
        throw httpError(cred.id === "c1" ? 403 : 429);
      })
      .catch(() => {});
    expect(calls.n).toBe(0);
  });

  it("a refresh returning a token still inside the buffer does not refresh on every call", async () => {
    const calls = { n: 0 };
    const c = clock();
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "t", refreshToken: "r", expiresAt: new Date(T0) }],
      async (cred) => {
        calls.n++;
        return { ...cred, accessToken: `t${calls.n}`, expiresAt: new Date(c.now() + 10_000) };
      },
      { now: c.now, minRefreshIntervalMs: 30_000 },
    );
    for (let i = 0; i < 20; i++) {
      await m.executeWithFailover(ok);
      c.advance(1_000);
    }
    // at t=0 and once the 30 s minimum interval had passed? 20 s elapsed: only the first
    expect(calls.n).toBe(1);
    c.advance(30_000);
    await m.executeWithFailover(ok);
    expect(calls.n).toBe(2);
  });

  it("a failed refresh fails over and counts on the refresh track only", async () => {
    const c = clock();
    const failing: RefreshFunc = async () => {
      throw Object.assign(new Error("token endpoint answered 503"), { status: 503 });
    };
    const m = new OAuthKeyManager(
      "P",
      [
        { id: "a", accessToken: "t", refreshToken: "r", expiresAt: new Date(T0) },
        { id: "b", accessToken: "u", refreshToken: "s", expiresAt: new Date(T0 + HOUR) },
      ],
      failing,
      { now: c.now, logger: { warn() {}, error() {} } },
    );
    const failures = vi.fn();
    m.on("refresh_failure", failures);
    const res = await m.executeWithFailover(ok);
    expect(res).toMatchObject({ credentialId: "b", attempts: 2 });
    expect(m.getCredentialHealthInfo("a")).toMatchObject({ refreshFailCount: 1, failureCount: 0 });
    expect(failures).toHaveBeenCalledOnce();
    expect(failures.mock.calls[0]![0].error).toBeInstanceOf(RefreshError);
  });

  it("after 5 refresh failures the credential is unhealthy and backs off 60 s, then 120 s", async () => {
    const c = clock();
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "t", refreshToken: "r", expiresAt: new Date(T0) }],
      async () => {
        throw new Error("network down");
      },
      { now: c.now, logger: { warn() {}, error() {} } },
    );
    for (let i = 0; i < 4; i++) {
      await m.refreshCredential("a").catch(() => {});
      expect(m.getCredentialHealthInfo("a")?.isAvailable).toBe(true);
    }
    await m.refreshCredential("a").catch(() => {});
    expect(m.getCredentialHealthInfo("a")).toMatchObject({ isHealthy: false, isAvailable: false });
    expect(m.getCredentialHealthInfo("a")?.backoffUntil?.getTime()).toBe(T0 + 60_000);
    await m.refreshCredential("a", { force: true }).catch(() => {});
    expect(m.getCredentialHealthInfo("a")?.backoffUntil?.getTime()).toBe(T0 + 120_000);
  });

  it("invalid_grant takes the credential out of selection: one refresh call, no retry loop", async () => {
    const c = clock();
    let calls = 0;
    const m = new OAuthKeyManager(
      "P",
      [
        { id: "dead", accessToken: "t", refreshToken: "r", expiresAt: new Date(T0) },
        { id: "ok", accessToken: "u", refreshToken: "s", expiresAt: new Date(T0 + HOUR) },
      ],
      async () => {
        calls++;
        throw Object.assign(new Error("invalid_grant"), {
          oauthError: "invalid_grant",
          status: 400,
        });
      },
      { now: c.now, logger: { warn() {}, error() {} } },
    );
    for (let i = 0; i < 10; i++) {
      expect((await m.executeWithFailover(ok)).credentialId).toBe("ok");
      c.advance(120_000);
    }
    expect(calls).toBe(1);
    expect(m.getCredentialHealthInfo("dead")).toMatchObject({
      state: "needs_reauth",
      isAvailable: false,
      isHealthy: false,
    });
  });

  it("a refresh that never answers is aborted by the refresh timeout", async () => {
    vi.useFakeTimers();
    try {
      const m = new OAuthKeyManager(
        "P",
        [{ id: "a", accessToken: "", refreshToken: "r" }],
        (_cred, signal) =>
          new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
        { refreshTimeoutMs: 5_000, logger: { warn() {}, error() {} } },
      );
      const pending = m.refreshCredential("a").catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(5_000);
      const err = await pending;
      expect(err).toBeInstanceOf(RefreshError);
      expect((err as Error).message).toContain("token refresh timed out");
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("abort", () => {
  it("a caller abort rejects with signal.reason and does not penalise the credential", async () => {
    const { m } = manager(2);
    const controller = new AbortController();
    const reason = new Error("user gave up");
    const pending = m.executeWithFailover(
      (_cred, signal) =>
        new Promise<never>((_, reject) =>
          signal.addEventListener("abort", () => reject(new Error("aborted"))),
        ),
      { signal: controller.signal },
    );
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(m.getCredentialHealthInfo("c1")?.failureCount).toBe(0);
    expect(m.getCredentialMetrics("c1")?.errorCount).toBe(0);
  });

  it("an operation that ignores the signal still lets the caller go", async () => {
    const { m } = manager(1);
    const controller = new AbortController();
    const pending = m.executeWithFailover(() => new Promise<never>(() => {}), {
      signal: controller.signal,
    });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });

  it("an operation that aborts the signal before returning rejects the call with the reason", async () => {
    const { m } = manager(2);
    const controller = new AbortController();
    const reason = new Error("cancelled from inside");
    const pending = m.executeWithFailover(
      () => {
        controller.abort(reason);
        return Promise.resolve({ result: "too late" });
      },
      { signal: controller.signal },
    );
    await expect(pending).rejects.toBe(reason);
    expect(m.getCredentialHealthInfo("c1")?.failureCount).toBe(0);
    // Nothing left in flight: close() does not wait.
    await m.close();
  });

  it("an answer that comes after the abort is neither a success nor a failure", async () => {
    const { m } = manager(1);
    const controller = new AbortController();
    let answer: (value: { result: string }) => void = () => {};
    const pending = m.executeWithFailover(
      () => new Promise<{ result: string }>((resolve) => (answer = resolve)),
      { signal: controller.signal },
    );
    controller.abort(new Error("gone"));
    await expect(pending).rejects.toThrow("gone");
    answer({ result: "late" });
    await new Promise((resolve) => setImmediate(resolve));
    const metrics = m.getCredentialMetrics("c1");
    expect(metrics?.requestCount).toBe(0);
    expect(metrics?.errorCount).toBe(0);
    expect(m.getCredentialHealthInfo("c1")?.failureCount).toBe(0);
    // The next call is counted once, as usual.
    await m.executeWithFailover(ok);
    expect(m.getCredentialMetrics("c1")?.requestCount).toBe(1);
    await m.close();
  });

  it("a clock that throws as a call with a signal succeeds rejects that call", async () => {
    let broken = false;
    const { m } = manager(1, {
      now: () => {
        if (broken) throw new Error("clock broke");
        return 1_000;
      },
    });
    const call = m.executeWithFailover(
      async () => {
        broken = true;
        return { result: 1 };
      },
      { signal: new AbortController().signal },
    );
    await expect(call).rejects.toThrow("clock broke");
  });

  it("an already aborted signal rejects before any credential is used", async () => {
    const { m } = manager(1);
    const op = vi.fn(ok);
    await expect(m.executeWithFailover(op, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: "AbortError",
    });
    expect(op).not.toHaveBeenCalled();
  });
});

describe("credentials are copied", () => {
  it("later changes to the caller's objects do not leak in, nor returned copies back", async () => {
    const input = creds(1);
    const { m } = { m: new OAuthKeyManager("P", input) };
    input[0]!.accessToken = "changed";
    input[0]!.expiresAt!.setTime(0);
    const out = m.getCredentials()[0]!;
    expect(out.accessToken).toBe("token-1");
    expect(out.expiresAt?.getTime()).toBe(T0 + HOUR);
    out.accessToken = "mutated";
    out.scopes?.push("x");
    out.expiresAt!.setTime(1);
    expect(m.getCredentials()[0]!.accessToken).toBe("token-1");
    expect(m.getCredentials()[0]!.expiresAt?.getTime()).toBe(T0 + HOUR);
  });

  it("the credential an operation gets is frozen", async () => {
    const { m } = manager(1);
    await m.executeWithFailover(async (cred) => {
      expect(Object.isFrozen(cred)).toBe(true);
      return { result: null };
    });
  });

  it("inspecting a credential does not show its secrets", () => {
    const m = new OAuthKeyManager("P", [
      {
        id: "a",
        accessToken: "SECRET-AT-123",
        refreshToken: "SECRET-RT-456",
        clientSecret: "SECRET-CS-789",
      },
    ]);
    const shown = inspect(m.getCredentials());
    expect(shown).not.toMatch(/SECRET-/);
    expect(shown).toContain("[REDACTED]");
  });
});

describe("bad input", () => {
  it("the constructor reports every bad credential at once, by id and never by secret", () => {
    const bad = [
      { id: "", accessToken: "SECRET-1" },
      { id: "a", accessToken: "SECRET-2" },
      { id: "a", accessToken: "SECRET-3" },
      { id: "b", accessToken: "" },
      { id: "c", accessToken: "SECRET-4", expiresAt: new Date("nope") },
      { id: "d", accessToken: "SECRET-5", weight: -1 },
      { id: "e", accessToken: "SECRET-6", expiresAt: "2026-01-01" },
    ] as unknown as OAuthCredentialSet[];
    let err: unknown;
    try {
      new OAuthKeyManager("P", bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe("INVALID_CONFIG");
    expect(e.issues.map((i) => i.path)).toEqual([
      "credentials[0].id",
      "credentials[2].id",
      "credentials[3] (b)",
      "credentials[4] (c).expiresAt",
      "credentials[5] (d).weight",
      "credentials[6] (e).expiresAt",
    ]);
    expect(e.message).toContain('duplicate id "a": also used by credentials[1]');
    expect(inspect(e)).not.toContain("SECRET-");
  });

  it("addCredential rejects an id already present", () => {
    const { m } = manager(1);
    expect(() => m.addCredential({ id: "c1", accessToken: "x" })).toThrow(ConfigError);
  });

  it("maxAttempts < 1 and a non-function operation are TypeErrors with clear messages", async () => {
    const { m } = manager(1);
    await expect(m.executeWithFailover(ok, { maxAttempts: 0 })).rejects.toThrow(
      "Expected `maxAttempts` to be an integer >= 1, got 0",
    );
    await expect(m.executeWithFailover("nope" as never)).rejects.toThrow(
      "Expected `op` to be a function, got a string",
    );
  });
});

describe("live changes", () => {
  it("a removed credential's request finishes and it is never selected again", async () => {
    const { m } = manager(2);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = m.executeWithFailover(async (cred) => {
      await gate;
      return { result: cred.id };
    });
    expect(m.removeCredential("c1")).toBe(true);
    release();
    expect((await first).credentialId).toBe("c1");
    for (let i = 0; i < 3; i++) expect((await m.executeWithFailover(ok)).credentialId).toBe("c2");
    expect(m.getCredentialMetrics("c1")).toBeUndefined();
  });

  it("an added credential joins the rotation", async () => {
    const { m } = manager(1);
    m.addCredential({ id: "new", accessToken: "n" });
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await m.executeWithFailover(ok)).credentialId);
    expect(ids).toEqual(["c1", "new", "c1", "new"]);
  });
});

describe("metrics", () => {
  it("records counts, tokens, latency from the injected clock and percentiles", async () => {
    const { m, clock } = manager(1);
    for (let i = 1; i <= 100; i++) {
      await m.executeWithFailover(async () => {
        clock.advance(i);
        return { result: i, usage: { promptTokens: 1, completionTokens: 2 } };
      });
    }
    const metrics = m.getCredentialMetrics("c1")!;
    expect(metrics).toMatchObject({
      requestCount: 100,
      successCount: 100,
      errorCount: 0,
      tokensUsed: 300,
      totalLatency: 5050,
      averageLatency: 50.5,
      successRate: 1,
    });
    expect(metrics.latencyP50).toBeGreaterThanOrEqual(47);
    expect(metrics.latencyP50).toBeLessThanOrEqual(53);
    expect(metrics.latencyP99).toBeGreaterThanOrEqual(94);
    expect(metrics.latencyP99).toBeLessThanOrEqual(100);
    expect(m.exportPrometheus().requestsTotal).toEqual({ c1: 100 });
  });

  it("requestsPerHour is the count under 36 s, then count over hours", () => {
    const { m, clock } = manager(1);
    m.recordRequest("c1", 10, 5, true);
    m.recordRequest("c1", 10, 5, false);
    expect(m.getCredentialMetrics("c1")?.requestsPerHour).toBe(2);
    clock.advance(HOUR / 2);
    expect(m.getCredentialMetrics("c1")?.requestsPerHour).toBe(4);
    expect(m.getCredentialMetrics("c1")?.successRate).toBe(0.5);
  });

  it("the health summary counts the pool", () => {
    const { m } = manager(3);
    m.reportFailure("c1");
    m.reportFailure("c1");
    m.reportFailure("c1");
    const s = m.getHealthSummary();
    expect(s).toMatchObject({
      totalCredentials: 3,
      healthyCredentials: 2,
      unhealthyCredentials: 1,
      credentialsInBackoff: 1,
      successRate: 1,
    });
  });
});

describe("close", () => {
  it("waits for requests in flight, then refuses new ones", async () => {
    const { m } = manager(1);
    let release!: () => void;
    const inFlight = m.executeWithFailover(async () => {
      await new Promise<void>((r) => {
        release = r;
      });
      return { result: "done" };
    });
    const closing = m.close();
    let closed = false;
    void closing.then(() => {
      closed = true;
    });
    await Promise.resolve();
    expect(closed).toBe(false);
    release();
    expect((await inFlight).result).toBe("done");
    await closing;
    await expect(m.executeWithFailover(ok)).rejects.toMatchObject({ code: "CLOSED" });
    await m.close();
  });
});

describe("programming errors in the operation", () => {
  it("are rethrown as they are, without failover or penalty", async () => {
    const m = new OAuthKeyManager("p", [
      { id: "a", accessToken: "ta" },
      { id: "b", accessToken: "tb" },
      { id: "c", accessToken: "tc" },
    ]);
    let calls = 0;
    const bug = new TypeError("Cannot read properties of undefined (reading 'choices')");
    await expect(
      m.executeWithFailover(async () => {
        calls++;
        throw bug;
      }),
    ).rejects.toBe(bug);
    expect(calls).toBe(1);
    expect(m.getHealthSummary().credentialsInBackoff).toBe(0);
    const { credentialId } = await m.executeWithFailover(async () => ({ result: 1 }));
    expect(credentialId).toBe("b");
    await m.close();
  });
});

describe("a credential given only a refresh token", () => {
  it('is refreshed before first use, as with accessToken: ""', async () => {
    let refreshes = 0;
    const m = new OAuthKeyManager(
      "p",
      [{ id: "a", refreshToken: "r" } as unknown as OAuthCredentialSet],
      async (cred) => {
        refreshes++;
        return { ...cred, accessToken: "fresh" };
      },
    );
    const seen: unknown[] = [];
    await m.executeWithFailover(async (cred) => {
      seen.push(cred.accessToken);
      return { result: 1 };
    });
    expect(refreshes).toBe(1);
    expect(seen).toEqual(["fresh"]);
    await m.close();
  });
});
