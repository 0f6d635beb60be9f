import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ClosedError } from "../errors.js";
import type { OAuthCredentialSet } from "../types.js";
import { KeyManager } from "./key-manager.js";
import { OAuthKeyManager } from "./oauth-key-manager.js";
import { clock, creds, deferred, httpError, ok } from "./test-support/requests.js";

/** Runs a request that holds `cred` until released; resolves `started` when it has it. */
function holdOn(m: OAuthKeyManager, id: string) {
  const started = deferred<string>();
  const release = deferred<{ result: string }>();
  const call = m.executeWithFailover(async (cred) => {
    started.resolve(cred.id);
    if (cred.id !== id) return { result: cred.id };
    return release.promise;
  });
  return { started: started.promise, release, call };
}

/**
 * Two credentials, c0 just back from a 1 s backoff, and the round-robin turn on it (the call
 * made here went to c1: c0 left the ring while the turn was on it).
 */
async function c0BackFromBackoff(halfOpen: boolean) {
  const c = clock();
  const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now, halfOpen });
  m.reportFailure("c0", httpError(503));
  c.advance(1_000);
  await m.executeWithFailover(ok);
  return { c, m };
}

describe("half-open trials", () => {
  it("a credential back from backoff serves one request at a time until one succeeds", async () => {
    const { m } = await c0BackFromBackoff(true);
    const trial = holdOn(m, "c0");
    expect(await trial.started).toBe("c0");
    // While the trial runs, everyone else goes to c1.
    for (let i = 0; i < 4; i++) expect((await m.executeWithFailover(ok)).result).toBe("c1");
    trial.release.resolve({ result: "c0" });
    await trial.call;
    const after = new Set<string>();
    for (let i = 0; i < 4; i++) after.add((await m.executeWithFailover(ok)).result);
    expect(after).toEqual(new Set(["c0", "c1"]));
    expect(m.getCredentialHealthInfo("c0")).toMatchObject({ state: "healthy", failureCount: 0 });
    await m.close();
  });

  it("a failed trial sends the credential into its next backoff step", async () => {
    const { c, m } = await c0BackFromBackoff(true);
    const trial = holdOn(m, "c0");
    expect(await trial.started).toBe("c0");
    trial.release.reject(httpError(503));
    expect((await trial.call).result).toBe("c1");
    expect(m.getCredentialHealthInfo("c0")).toMatchObject({
      failureCount: 2,
      backoffUntil: new Date(c.now() + 2_000),
    });
    await m.close();
  });

  it("a trial that ends on the request's own fault leaves the credential half-open", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: c.now, halfOpen: true });
    m.reportFailure("c0", httpError(503));
    c.advance(1_000);
    await expect(
      m.executeWithFailover(async () => {
        throw httpError(400);
      }),
    ).rejects.toMatchObject({ status: 400 });
    // The next request to pick c0 is a trial again: others go elsewhere while it runs.
    const trial = holdOn(m, "c0");
    await m.executeWithFailover(ok); // c1, the turn moves back to c0
    expect(await trial.started).toBe("c0");
    expect((await m.executeWithFailover(ok)).result).toBe("c1");
    trial.release.resolve({ result: "c0" });
    await trial.call;
    await m.close();
  });

  it("is off by default: a credential back from backoff takes its whole share at once", async () => {
    const { m } = await c0BackFromBackoff(false);
    const first = holdOn(m, "c0");
    expect(await first.started).toBe("c0");
    await m.executeWithFailover(ok); // c1
    const second = holdOn(m, "c0");
    expect(await second.started).toBe("c0");
    first.release.resolve({ result: "c0" });
    second.release.resolve({ result: "c0" });
    await Promise.all([first.call, second.call]);
    await m.close();
  });
});

describe("background probes", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("check a credential whose backoff ended, one probe at a time, before it serves again", async () => {
    const probes: { id: string; done: ReturnType<typeof deferred<void>> }[] = [];
    const probe = vi.fn((cred: Readonly<OAuthCredentialSet>) => {
      const done = deferred();
      probes.push({ id: cred.id, done });
      return done.promise;
    });
    const m = new OAuthKeyManager("p", creds(2), undefined, { probe });
    m.start();
    m.reportFailure("c0", httpError(503));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(probes.map((p) => p.id)).toEqual(["c0"]);
    // The probe runs: requests keep going to c1, and no second probe starts on c0.
    for (let i = 0; i < 3; i++) expect((await m.executeWithFailover(ok)).result).toBe("c1");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(probe).toHaveBeenCalledTimes(1);
    probes[0]?.done.resolve(undefined);
    await vi.advanceTimersByTimeAsync(0);
    const after = new Set<string>();
    for (let i = 0; i < 4; i++) after.add((await m.executeWithFailover(ok)).result);
    expect(after).toEqual(new Set(["c0", "c1"]));
    await m.close();
  });

  it("a failed probe starts the next backoff step, honouring a Retry-After", async () => {
    let calls = 0;
    const probe = async () => {
      calls++;
      throw httpError(429, { "retry-after": "30" });
    };
    const m = new OAuthKeyManager("p", creds(2), undefined, { probe });
    m.start();
    m.reportFailure("c0", httpError(503));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(1);
    expect(m.getCredentialHealthInfo("c0")?.backoffUntil?.getTime()).toBe(Date.now() + 30_000);
    await vi.advanceTimersByTimeAsync(29_000);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(2);
    await m.close();
  });

  it("run at most probeConcurrency at once, one per credential", async () => {
    const running = new Set<string>();
    let most = 0;
    const release: (() => void)[] = [];
    const probe = (cred: Readonly<OAuthCredentialSet>) => {
      expect(running.has(cred.id)).toBe(false);
      running.add(cred.id);
      most = Math.max(most, running.size);
      return new Promise<void>((resolve) => {
        release.push(() => {
          running.delete(cred.id);
          resolve();
        });
      });
    };
    const m = new OAuthKeyManager("p", creds(4), undefined, { probe, probeConcurrency: 2 });
    m.start();
    for (const id of ["c0", "c1", "c2"]) m.reportFailure(id, httpError(503));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(running.size).toBe(2);
    while (release.length > 0) {
      release.shift()?.();
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(most).toBe(2);
    expect(m.getHealthSummary().credentialsInBackoff).toBe(0);
    await m.close();
  });

  it("a probe that hangs is aborted after probeTimeoutMs and counts as failed", async () => {
    let signal: AbortSignal | undefined;
    const probe = (_cred: unknown, s: AbortSignal) => {
      signal = s;
      return new Promise<never>(() => {});
    };
    const m = new OAuthKeyManager("p", creds(2), undefined, { probe, probeTimeoutMs: 5_000 });
    m.start();
    m.reportFailure("c0", httpError(503));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(signal?.aborted).toBe(true);
    expect(m.getCredentialHealthInfo("c0")?.failureCount).toBe(2);
    await m.close();
  });

  it("close() aborts probes in flight", async () => {
    let signal: AbortSignal | undefined;
    const probe = (_cred: unknown, s: AbortSignal) => {
      signal = s;
      return new Promise<never>(() => {});
    };
    const m = new OAuthKeyManager("p", creds(2), undefined, { probe });
    m.start();
    m.reportFailure("c0", httpError(503));
    await vi.advanceTimersByTimeAsync(1_000);
    await m.close();
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(ClosedError);
  });

  it("without start(), credentials come back when their backoff ends, unprobed", async () => {
    const probe = vi.fn(async () => {});
    const m = new OAuthKeyManager("p", creds(1), undefined, { probe });
    m.reportFailure("c0", httpError(503));
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await m.executeWithFailover(ok)).result).toBe("c0");
    expect(probe).not.toHaveBeenCalled();
    await m.close();
  });

  it("a KeyManager's probe gets the key", async () => {
    const seen: string[] = [];
    const keys = new KeyManager("p", ["k0", "k1"], {
      probe: async (key) => {
        seen.push(key);
      },
    });
    keys.start();
    keys.reportFailure("k0", httpError(503));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(seen).toEqual(["k0"]);
    await keys.close();
  });
});
