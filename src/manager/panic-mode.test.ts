import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ClosedError, CredentialsUnavailableError, FailoverExhaustedError } from "../errors.js";
import { OAuthKeyManager } from "./oauth-key-manager.js";
import { creds, httpError, ok, track } from "./test-support/requests.js";

const limited = (seconds: number) => httpError(429, { "retry-after": String(seconds) });

describe("panic mode: every credential is out", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('"reject" (the default) throws CredentialsUnavailableError with retryAfterMs at once', async () => {
    const m = new OAuthKeyManager("p", creds(2));
    m.reportFailure("c0", limited(20));
    m.reportFailure("c1", limited(5));
    const err = await m.executeWithFailover(ok).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsUnavailableError);
    expect((err as CredentialsUnavailableError).retryAfterMs).toBe(5_000);
    await m.close();
  });

  it('"wait" waits for the soonest credential', async () => {
    const m = new OAuthKeyManager("p", creds(2), undefined, { whenAllUnavailable: "wait" });
    m.reportFailure("c0", limited(20));
    m.reportFailure("c1", limited(5));
    const call = track(m.executeWithFailover(ok));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(call.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(call.value).toMatchObject({ result: "c1", attempts: 1 });
    await m.close();
  });

  it('"wait" gives up after maxWaitMs', async () => {
    const m = new OAuthKeyManager("p", creds(1), undefined, {
      whenAllUnavailable: "wait",
      maxWaitMs: 2_000,
    });
    m.reportFailure("c0", limited(60));
    const call = track(m.executeWithFailover(ok));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(call.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(call.error).toBeInstanceOf(CredentialsUnavailableError);
    expect((call.error as CredentialsUnavailableError).retryAfterMs).toBe(58_000);
    await m.close();
  });

  it('"wait" stops when the caller aborts, and when the manager closes', async () => {
    const m = new OAuthKeyManager("p", creds(1), undefined, { whenAllUnavailable: "wait" });
    m.reportFailure("c0", limited(60));
    const controller = new AbortController();
    const aborted = track(m.executeWithFailover(ok, { signal: controller.signal }));
    const closed = track(m.executeWithFailover(ok));
    await vi.advanceTimersByTimeAsync(1_000);
    controller.abort(new Error("caller gave up"));
    await vi.advanceTimersByTimeAsync(0);
    expect((aborted.error as Error).message).toBe("caller gave up");
    expect(closed.settled).toBe(false);
    await m.close();
    expect(closed.error).toBeInstanceOf(ClosedError);
  });

  it('"wait" does not wait for credentials that will never come back by themselves', async () => {
    const m = new OAuthKeyManager(
      "p",
      [{ id: "c0", accessToken: "", refreshToken: "r0" }],
      async () => {
        throw Object.assign(new Error("invalid_grant"), { status: 400, error: "invalid_grant" });
      },
      { whenAllUnavailable: "wait" },
    );
    await expect(m.executeWithFailover(ok)).rejects.toBeInstanceOf(FailoverExhaustedError);
    expect(m.getCredentialHealthInfo("c0")?.state).toBe("needs_reauth");
    const err = await m.executeWithFailover(ok).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsUnavailableError);
    await m.close();
  });

  it('"least-bad" tries the credential whose backoff ends first', async () => {
    const m = new OAuthKeyManager("p", creds(3), undefined, { whenAllUnavailable: "least-bad" });
    m.reportFailure("c0", limited(20));
    m.reportFailure("c1", limited(5));
    m.reportFailure("c2", limited(50));
    await vi.advanceTimersByTimeAsync(1);
    expect(await m.executeWithFailover(ok)).toMatchObject({ result: "c1", attempts: 1 });
    // Its success ends its backoff.
    expect(m.getCredentialHealthInfo("c1")?.state).toBe("healthy");
    expect((await m.executeWithFailover(ok)).result).toBe("c1");
    await m.close();
  });

  it('"least-bad" under a scope weighs the scope\'s cooldowns too', async () => {
    const m = new OAuthKeyManager("p", creds(2), undefined, { whenAllUnavailable: "least-bad" });
    await expect(
      m.executeWithFailover(
        async (cred) => {
          throw limited(cred.id === "c0" ? 5 : 50);
        },
        { scope: "pro" },
      ),
    ).rejects.toBeInstanceOf(FailoverExhaustedError);
    await vi.advanceTimersByTimeAsync(1);
    expect((await m.executeWithFailover(ok, { scope: "pro" })).result).toBe("c0");
    expect(m.getHealthSummary().scopedCooldowns).toEqual({
      pro: { c1: new Date(Date.now() - 1 + 50_000) },
    });
    await m.close();
  });

  it("a call overrides the manager's choice", async () => {
    const m = new OAuthKeyManager("p", creds(1), undefined, { whenAllUnavailable: "wait" });
    m.reportFailure("c0", limited(5));
    await expect(
      m.executeWithFailover(ok, { whenAllUnavailable: "reject" }),
    ).rejects.toBeInstanceOf(CredentialsUnavailableError);
    expect((await m.executeWithFailover(ok, { whenAllUnavailable: "least-bad" })).result).toBe(
      "c0",
    );
    await expect(
      m.executeWithFailover(ok, { whenAllUnavailable: "panic" as never }),
    ).rejects.toThrow(/Expected `whenAllUnavailable` to be one of reject, wait, least-bad/);
    await m.close();
  });

  it("after failed attempts the call ends as today, whatever the mode", async () => {
    const m = new OAuthKeyManager("p", creds(2), undefined, { whenAllUnavailable: "wait" });
    const err = await m
      .executeWithFailover(async () => {
        throw limited(30);
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailoverExhaustedError);
    expect((err as FailoverExhaustedError).retryAfterMs).toBe(30_000);
    await m.close();
  });

  it("refuses an unknown mode as a manager option", () => {
    expect(
      () => new OAuthKeyManager("p", creds(1), undefined, { whenAllUnavailable: "never" as never }),
    ).toThrow(TypeError);
    expect(() => new OAuthKeyManager("p", creds(1), undefined, { maxWaitMs: -1 })).toThrow(
      /Expected `maxWaitMs` to be a finite number >= 0/,
    );
  });
});
