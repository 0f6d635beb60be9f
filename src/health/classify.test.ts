import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { classifyError, statusOf } from "./classify.js";

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

function httpError(status: number, headers?: Record<string, string>): Error {
  return Object.assign(new Error(`HTTP ${status}`), { status, ...(headers ? { headers } : {}) });
}

describe("statusOf", () => {
  it("reads status, statusCode, response.status and response.statusCode", () => {
    expect(statusOf({ status: 429 })).toBe(429);
    expect(statusOf({ statusCode: 503 })).toBe(503);
    expect(statusOf({ response: { status: 401 } })).toBe(401);
    expect(statusOf({ response: { statusCode: 404 } })).toBe(404);
    expect(statusOf(new Response(null, { status: 502 }))).toBe(502);
  });

  it("accepts numeric strings and skips non-HTTP values for the next candidate", () => {
    expect(statusOf({ status: "429" })).toBe(429);
    expect(statusOf({ status: "RESOURCE_EXHAUSTED", statusCode: 429 })).toBe(429);
    expect(statusOf({ status: 99, response: { status: 500 } })).toBe(500);
  });

  it.each([
    [{ status: 600 }],
    [{ status: 99 }],
    [{ status: 429.5 }],
    [{ status: "4xx" }],
    [{ status: "1e2" }],
    [{ status: Number.NaN }],
    [{}],
    [null],
    ["503"],
    [503],
  ])("no status in %j", (err) => {
    expect(statusOf(err)).toBeUndefined();
  });
});

describe("classifyError: which errors fail over", () => {
  it("401 → refresh the token (auth)", () => {
    expect(classifyError(httpError(401), NOW)).toEqual({
      action: "refresh",
      kind: "auth",
      status: 401,
    });
  });

  it("403 → backoff and fail over, without spending a refresh (auth)", () => {
    expect(classifyError(httpError(403), NOW)).toEqual({
      action: "backoff",
      kind: "auth",
      status: 403,
    });
  });

  it("429 → cooldown with the Retry-After when given", () => {
    expect(classifyError(httpError(429, { "retry-after": "30" }), NOW)).toEqual({
      action: "cooldown",
      kind: "rate_limit",
      status: 429,
      retryAfterMs: 30_000,
    });
    expect(
      classifyError(
        {
          response: {
            status: 429,
            headers: new Headers({ "Retry-After": "Sun, 01 Mar 2026 12:01:00 GMT" }),
          },
        },
        NOW,
      ),
    ).toMatchObject({ action: "cooldown", retryAfterMs: 60_000 });
    expect(classifyError({ status: 429, retryAfterMs: 1234 }, NOW).retryAfterMs).toBe(1234);
  });

  it("429 without a usable Retry-After has no retryAfterMs (falls back to backoff)", () => {
    for (const value of [undefined, "1000abc", "-5"]) {
      const c = classifyError(
        httpError(429, value === undefined ? undefined : { "retry-after": value }),
        NOW,
      );
      expect(c).toEqual({ action: "cooldown", kind: "rate_limit", status: 429 });
      expect("retryAfterMs" in c).toBe(false);
    }
  });

  it("408 → backoff (timeout)", () => {
    expect(classifyError(httpError(408), NOW)).toEqual({
      action: "backoff",
      kind: "timeout",
      status: 408,
    });
  });

  it.each([500, 502, 504, 529, 599])("%d → backoff (server)", (status) => {
    expect(classifyError(httpError(status, { "retry-after": "5" }), NOW)).toEqual({
      action: "backoff",
      kind: "server",
      status,
    });
  });

  it("503 keeps its Retry-After", () => {
    expect(classifyError(httpError(503, { "retry-after": "5" }), NOW)).toEqual({
      action: "backoff",
      kind: "server",
      status: 503,
      retryAfterMs: 5_000,
    });
  });

  it.each([400, 402, 404, 409, 413, 422, 499])("%d is the request's fault → rethrow", (status) => {
    expect(classifyError(httpError(status), NOW)).toMatchObject({ action: "rethrow", status });
  });

  it("reads the status from response.status and statusCode too", () => {
    expect(classifyError({ response: { status: 401 } }, NOW).action).toBe("refresh");
    expect(classifyError({ statusCode: 400 }, NOW).action).toBe("rethrow");
  });

  describe("errors without a status are transient", () => {
    const timeout = (err: unknown) =>
      expect(classifyError(err, NOW)).toEqual({ action: "backoff", kind: "timeout" });
    const network = (err: unknown) =>
      expect(classifyError(err, NOW)).toEqual({ action: "backoff", kind: "network" });

    it("TimeoutError, AbortError and timeout codes → timeout", () => {
      timeout(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
      timeout(new DOMException("This operation was aborted", "AbortError"));
      timeout(Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }));
      timeout(Object.assign(new Error("x"), { code: "ESOCKETTIMEDOUT" }));
      timeout(Object.assign(new Error("x"), { code: "UND_ERR_HEADERS_TIMEOUT" }));
      timeout(Object.assign(new Error("x"), { code: "UND_ERR_BODY_TIMEOUT" }));
    });

    it("a timeout wrapped by fetch ('fetch failed' with a cause) → timeout", () => {
      const cause = Object.assign(new Error("Connect Timeout Error"), {
        code: "UND_ERR_CONNECT_TIMEOUT",
      });
      timeout(new TypeError("fetch failed", { cause }));
    });

    it("everything else → network", () => {
      network(new Error("boom"));
      network(new TypeError("fetch failed"));
      network(
        new TypeError("fetch failed", {
          cause: Object.assign(new Error("reset"), { code: "ECONNRESET" }),
        }),
      );
      network(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
      network(Object.assign(new Error("x"), { code: "UND_ERR_SOCKET" }));
      network("a string");
      network(undefined);
      network(null);
      network(42);
      network(Symbol("s"));
      network({ status: 200 });
      network({ status: 302 });
    });

    it("a programming error in the operation is rethrown: no failover, no penalty", () => {
      const rethrown = (err: unknown) =>
        expect(classifyError(err, NOW)).toEqual({ action: "rethrow", kind: "network" });
      rethrown(new TypeError("Cannot read properties of undefined (reading 'choices')"));
      rethrown(new ReferenceError("resutl is not defined"));
      rethrown(new SyntaxError("Unexpected token '<', \"<html>\" is not valid JSON"));
      rethrown(new RangeError("Invalid array length"));
      rethrown(new TypeError("x", { cause: new Error("no code here") }));
    });

    it("network failures that fetch raises as a TypeError stay transient", () => {
      for (const code of ["ECONNRESET", "ECONNREFUSED", "ENOTFOUND", "UND_ERR_SOCKET"]) {
        const cause = Object.assign(new Error(code), { code });
        network(new TypeError("fetch failed", { cause }));
        network(new TypeError("terminated", { cause }));
        network(new TypeError("anything", { cause }));
      }
      network(new TypeError("fetch failed"));
      network(new TypeError("Failed to fetch"));
      network(Object.assign(new TypeError("socket hang up"), { code: "ECONNRESET" }));
      const wrapped = new TypeError("fetch failed", {
        cause: new Error("outer", { cause: Object.assign(new Error("inner"), { errno: -104 }) }),
      });
      network(wrapped);
      timeout(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
      // a plain Error without a status stays transient
      network(new Error("upstream said no"));
    });

    it("a cause cycle does not loop", () => {
      const a: { name: string; cause?: unknown } = { name: "Error" };
      a.cause = a;
      network(a);
    });
  });

  it("never throws on hostile values", () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error("boom");
        },
        has() {
          throw new Error("boom");
        },
        ownKeys() {
          throw new Error("boom");
        },
      },
    );
    expect(classifyError(hostile, NOW)).toEqual({ action: "backoff", kind: "network" });
    const getter = Object.defineProperty({ status: 429 }, "headers", {
      get() {
        throw new Error("boom");
      },
    });
    expect(classifyError(getter, NOW)).toEqual({
      action: "cooldown",
      kind: "rate_limit",
      status: 429,
    });
    expect(classifyError(Object.create(null), NOW).action).toBe("backoff");
  });

  it("uses Date.now() when no clock is given", () => {
    vi.useFakeTimers({ now: NOW });
    try {
      const c = classifyError(httpError(429, { "retry-after": "Sun, 01 Mar 2026 12:01:00 GMT" }));
      expect(c.retryAfterMs).toBe(60_000);
    } finally {
      vi.useRealTimers();
    }
  });

  it("property: never throws, and always gives a known action and kind", () => {
    const actions = new Set(["refresh", "cooldown", "backoff", "rethrow"]);
    const kinds = new Set(["auth", "rate_limit", "server", "network", "timeout"]);
    const errorLike = fc.record(
      {
        status: fc.oneof(fc.integer({ min: -1, max: 700 }), fc.string(), fc.anything()),
        statusCode: fc.anything(),
        name: fc.oneof(fc.constantFrom("TimeoutError", "AbortError", "Error"), fc.string()),
        code: fc.oneof(
          fc.constantFrom("ETIMEDOUT", "ECONNRESET", "UND_ERR_CONNECT_TIMEOUT"),
          fc.string(),
        ),
        retryAfterMs: fc.oneof(fc.double(), fc.anything()),
        headers: fc.oneof(
          fc.dictionary(fc.constantFrom("retry-after", "Retry-After", "x"), fc.string()),
          fc.anything(),
        ),
        response: fc.record(
          { status: fc.anything(), headers: fc.anything() },
          { requiredKeys: [] },
        ),
        cause: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.anything(), errorLike), (err) => {
        const c = classifyError(err, NOW);
        expect(actions.has(c.action)).toBe(true);
        expect(kinds.has(c.kind)).toBe(true);
        if (c.retryAfterMs !== undefined) {
          expect(Number.isFinite(c.retryAfterMs) && c.retryAfterMs >= 0).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
