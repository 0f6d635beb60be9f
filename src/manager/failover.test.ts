import { describe, expect, it } from "vitest";
import {
  CredentialsUnavailableError,
  FailoverExhaustedError,
  NoCredentialsError,
} from "../errors.js";
import { MemoryTokenStore } from "../stores/memory-store.js";
import type { StoredToken } from "../stores/types.js";
import { OPERATION_SETTLES_ON_ABORT, type PoolCallOptions } from "./failover.js";
import { KeyManager } from "./key-manager.js";
import { OAuthKeyManager } from "./oauth-key-manager.js";
import { clock, creds, httpError } from "./test-support/requests.js";

describe("a short outage with many requests in flight", () => {
  it("costs each credential one backoff step, and the pool serves again after it", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(100), undefined, { now: c.now });
    // 20 requests in flight on every credential when the upstream blips
    const release: (() => void)[] = [];
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 2_000; i++) {
      calls.push(
        m
          .executeWithFailover(
            () =>
              new Promise<never>((_, reject) => {
                release.push(() => reject(httpError(503)));
              }),
            { maxAttempts: 1 },
          )
          .catch((err: unknown) => err),
      );
    }
    c.advance(100);
    for (const fail of release) fail();
    const outcomes = await Promise.all(calls);
    expect(outcomes.every((e) => e instanceof FailoverExhaustedError)).toBe(true);
    const summary = m.getHealthSummary();
    for (const info of Object.values(summary.credentials)) {
      expect(info.failureCount).toBe(1);
      expect(info.backoffUntil?.getTime()).toBe(c.now() + 1_000);
    }
    c.advance(1_000);
    const { result } = await m.executeWithFailover(async () => ({ result: "served" }));
    expect(result).toBe("served");
    await m.close();
  });
});

describe("when every attempt was rate limited", () => {
  it("FailoverExhaustedError.retryAfterMs says when the soonest credential is back", async () => {
    const c = clock();
    const m = new OAuthKeyManager("p", creds(3), undefined, { now: c.now });
    let n = 0;
    const err = await m
      .executeWithFailover(async () => {
        n++;
        throw httpError(429, { "retry-after": String(20 + n * 10) });
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailoverExhaustedError);
    expect((err as FailoverExhaustedError).retryAfterMs).toBe(30_000);
    await m.close();
  });

  it("is 0 when a credential not tried is available, and absent after server errors", async () => {
    const m = new OAuthKeyManager("p", creds(3));
    const limited = await m
      .executeWithFailover(
        async () => {
          throw httpError(429, { "retry-after": "30" });
        },
        { maxAttempts: 1 },
      )
      .catch((e: unknown) => e);
    expect((limited as FailoverExhaustedError).retryAfterMs).toBe(0);
    const failed = await m
      .executeWithFailover(
        async () => {
          throw httpError(500);
        },
        { maxAttempts: 1 },
      )
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(FailoverExhaustedError);
    expect((failed as FailoverExhaustedError).retryAfterMs).toBeUndefined();
    await m.close();
  });
});

describe("KeyManager errors", () => {
  it("speak of API keys", async () => {
    const empty = new KeyManager("openai", []);
    await expect(empty.executeWithFailover(async () => ({ result: 1 }))).rejects.toThrow(
      new NoCredentialsError("openai", "API key"),
    );
    await expect(empty.executeWithFailover(async () => ({ result: 1 }))).rejects.toThrow(
      "no API keys configured for openai",
    );
    const keys = new KeyManager("openai", ["k1", "k2"]);
    const err = await keys
      .executeWithFailover(async () => {
        throw httpError(503);
      })
      .catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(
      /^openai: all 2 API key failover attempts failed/,
    );
    const unavailable = await keys.getNextKey().catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(CredentialsUnavailableError);
    expect((unavailable as Error).message).toBe(
      "all 2 API keys for openai are currently unavailable",
    );
    expect((err as Error).message).not.toMatch(/OAuth/);
    await keys.close();
    await expect(keys.executeWithFailover(async () => ({ result: 1 }))).rejects.toThrow(
      /KeyManager for openai/,
    );
    await empty.close();
  });

  it("hand the operation the key itself", async () => {
    const keys = new KeyManager("openai", ["k1", "k2"]);
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      await keys.executeWithFailover(async (key) => {
        seen.push(key);
        return { result: 1 };
      });
    }
    expect(seen).toEqual(["k1", "k2", "k1"]);
    await keys.close();
  });
});

describe("a caller's abort", () => {
  it("that comes while the store is still loading keeps the operation from starting", async () => {
    let loaded: () => void = () => {};
    // A store whose first load is still under way when the call arrives.
    class SlowStore extends MemoryTokenStore {
      override async loadAll(prefix: string): Promise<Map<string, StoredToken>> {
        await new Promise<void>((resolve) => (loaded = resolve));
        return super.loadAll(prefix);
      }
    }
    const m = new OAuthKeyManager("p", creds(2), undefined, { store: new SlowStore() });
    const controller = new AbortController();
    let started = 0;
    const call = m.executeWithFailover(
      async () => {
        started++;
        return { result: 1 };
      },
      { signal: controller.signal },
    );
    const reason = new Error("the client left");
    controller.abort(reason);
    loaded();
    await expect(call).rejects.toBe(reason);
    expect(started).toBe(0);
    await m.close();
  });
});

describe("an operation that settles by itself on abort", () => {
  const callsAborted = async (m: OAuthKeyManager) => {
    const text = await m.exportPrometheusText();
    const line = text
      .split("\n")
      .find((l) => l.startsWith('oauthmanager_calls_total{provider="p",outcome="aborted"} '));
    return Number(line?.split(" ").pop());
  };

  it("is awaited, not raced: the call rejects with the signal's reason once the operation gives up, without penalty", async () => {
    const m = new OAuthKeyManager("p", creds(2));
    const controller = new AbortController();
    let gaveUp = false;
    const call = m.executeWithFailover(
      (_cred, signal) =>
        new Promise<never>((_, reject) =>
          signal.addEventListener("abort", () => {
            gaveUp = true;
            // What an HTTP client rejects with: its own error, not the caller's reason.
            reject(new Error("request aborted"));
          }),
        ),
      { signal: controller.signal, [OPERATION_SETTLES_ON_ABORT]: true } as PoolCallOptions,
    );
    const reason = new Error("the client left");
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(gaveUp).toBe(true);
    expect(m.getCredentialHealthInfo("c0")?.failureCount).toBe(0);
    expect(m.getCredentialMetrics("c0")?.errorCount).toBe(0);
    expect(await callsAborted(m)).toBe(1);
    await m.close();
  });

  it("keeps the call until the operation settles, which is why only such operations may say so", async () => {
    const m = new OAuthKeyManager("p", creds(1));
    const controller = new AbortController();
    let answer: (value: { result: string }) => void = () => {};
    let settled = false;
    const call = m.executeWithFailover(
      () => new Promise<{ result: string }>((resolve) => (answer = resolve)),
      { signal: controller.signal, [OPERATION_SETTLES_ON_ABORT]: true } as PoolCallOptions,
    );
    void call.then(
      () => (settled = true),
      () => (settled = true),
    );
    controller.abort(new Error("gone"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    // An answer before the operation saw the abort is a success, as the client's would be.
    answer({ result: "in time" });
    await expect(call).resolves.toMatchObject({ result: "in time" });
    await m.close();
  });
});

describe("calls by outcome", () => {
  it("are exported with errors by kind and tokens by type", async () => {
    const m = new OAuthKeyManager("p", creds(2));
    await m.executeWithFailover(async () => ({
      result: 1,
      usage: { promptTokens: 12, completionTokens: 30 },
    }));
    await m
      .executeWithFailover(async () => ({ result: 0 }), { signal: AbortSignal.abort() })
      .catch(() => {});
    const controller = new AbortController();
    const aborted = m.executeWithFailover(() => new Promise<never>(() => {}), {
      signal: controller.signal,
    });
    controller.abort(new Error("stop"));
    await aborted.catch(() => {});
    let first = true;
    await m.executeWithFailover(async () => {
      if (first) {
        first = false;
        throw httpError(429);
      }
      return { result: 2 };
    });
    await m
      .executeWithFailover(async () => {
        throw httpError(400);
      })
      .catch(() => {});
    await m
      .executeWithFailover(async () => {
        throw new Error("reset");
      })
      .catch(() => {});
    await m.executeWithFailover(async () => ({ result: 3 })).catch(() => {});
    const text = await m.exportPrometheusText();
    const value = (series: string) => {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.split(" ").pop());
    };
    expect(value('oauthmanager_calls_total{provider="p",outcome="ok"}')).toBe(1);
    expect(value('oauthmanager_calls_total{provider="p",outcome="failed_over"}')).toBe(1);
    expect(value('oauthmanager_calls_total{provider="p",outcome="caller_error"}')).toBe(1);
    expect(value('oauthmanager_calls_total{provider="p",outcome="exhausted"}')).toBe(1);
    expect(value('oauthmanager_calls_total{provider="p",outcome="unavailable"}')).toBe(1);
    expect(value('oauthmanager_calls_total{provider="p",outcome="aborted"}')).toBe(2);
    expect(value('oauthmanager_errors_total{provider="p",credential="c0",kind="rate_limit"}')).toBe(
      1,
    );
    expect(value('oauthmanager_tokens_total{provider="p",credential="c0",type="prompt"}')).toBe(12);
    expect(value('oauthmanager_tokens_total{provider="p",credential="c0",type="completion"}')).toBe(
      30,
    );
    expect(text).toMatch(/oauthmanager_credential_state\{[^}]*state="cooling"\} 1/);
    await m.close();
  });
});

describe("metricsLabels", () => {
  it("puts a replica label on every series, and keeps two replicas' series apart", async () => {
    const a = new OAuthKeyManager("p", creds(1), undefined, { metricsLabels: { replica: "r1" } });
    const b = new OAuthKeyManager("p", creds(1), undefined, { metricsLabels: { replica: "r2" } });
    await a.executeWithFailover(async () => ({ result: 1 }));
    const text = await a.exportPrometheusText();
    const series = text.split("\n").filter((l) => l.startsWith("oauthmanager_"));
    expect(series.length).toBeGreaterThan(10);
    for (const line of series) expect(line).toContain('replica="r1"');
    expect(text).toContain('oauthmanager_calls_total{replica="r1",provider="p",outcome="ok"} 1');

    const { Registry } = await import("prom-client");
    const registry = new Registry();
    a.metricsCollector().register(registry);
    b.metricsCollector().register(registry);
    const both = await registry.metrics();
    expect(both).toContain(
      'oauthmanager_requests_total{replica="r1",provider="p",credential="c0"} 1',
    );
    expect(both).toContain(
      'oauthmanager_requests_total{replica="r2",provider="p",credential="c0"} 0',
    );
    await Promise.all([a.close(), b.close()]);
  });

  it("refuses label names of its own and names Prometheus would reject", () => {
    for (const name of ["provider", "credential", "le", "__x", "has-dash", "1st"]) {
      expect(
        () => new OAuthKeyManager("p", [], undefined, { metricsLabels: { [name]: "v" } }),
      ).toThrow(TypeError);
    }
    expect(
      () =>
        new OAuthKeyManager("p", [], undefined, {
          metricsLabels: { replica: 1 as unknown as string },
        }),
    ).toThrow(/metricsLabels.replica/);
  });
});

describe("the common case's edges", () => {
  it("an operation that throws before returning a promise fails over like one that rejects", async () => {
    const m = new OAuthKeyManager("p", creds(2), undefined, { now: clock().now });
    const seen: string[] = [];
    const out = await m.executeWithFailover((cred) => {
      seen.push(cred.id);
      if (cred.id === "c0") throw httpError(503);
      return Promise.resolve({ result: cred.id });
    });
    expect(seen).toEqual(["c0", "c1"]);
    expect(out).toEqual({ result: "c1", credentialId: "c1", attempts: 2 });
    expect(m.getCredentialHealthInfo("c0")?.failureCount).toBe(1);
    await m.close();
  });

  it("a clock that throws makes the call reject, never throw", async () => {
    let broken = false;
    const m = new OAuthKeyManager("p", creds(1), undefined, {
      now: () => {
        if (broken) throw new Error("clock broke");
        return 1_000_000;
      },
    });
    await m.executeWithFailover(async () => ({ result: 1 }));
    broken = true;
    let call: Promise<unknown> | undefined;
    expect(() => {
      call = m.executeWithFailover(async () => ({ result: 1 }));
    }).not.toThrow();
    await expect(call).rejects.toThrow("clock broke");
    broken = false;
    await m.close();
  });

  it("close() waits for a call in flight on the common path, and counts it once", async () => {
    const m = new OAuthKeyManager("p", creds(1), undefined, { now: clock().now });
    let finish!: () => void;
    const call = m.executeWithFailover(
      () =>
        new Promise<{ result: string }>((resolve) => {
          finish = () => resolve({ result: "late" });
        }),
    );
    let closed = false;
    const closing = m.close().then(() => {
      closed = true;
    });
    await Promise.resolve();
    expect(closed).toBe(false);
    finish();
    await expect(call).resolves.toMatchObject({ result: "late", attempts: 1 });
    await closing;
    expect(closed).toBe(true);
    expect(await m.exportPrometheusText()).toMatch(
      /oauthmanager_calls_total\{provider="p",outcome="ok"\} 1\n/,
    );
  });
});
