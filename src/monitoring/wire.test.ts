import { describe, expect, it } from "vitest";
import { RefreshError } from "../errors.js";
import type { WebhookEvent } from "../types.js";
import { rfc3339, toWire } from "./wire.js";

const base: WebhookEvent = {
  type: "failure",
  credentialId: "account-1",
  timestamp: new Date("2025-01-15T10:30:00Z"),
  message: "High failure rate detected: 35.0%",
  details: { failure_rate: 0.35, success_rate: 0.65, total_requests: 100, error_count: 35 },
};

describe("toWire", () => {
  it("gives the documented body, keys in order", () => {
    const wire = toWire(base);
    expect(JSON.stringify(wire)).toBe(
      '{"type":"failure","credential_id":"account-1","timestamp":"2025-01-15T10:30:00Z",' +
        '"message":"High failure rate detected: 35.0%","details":{"failure_rate":0.35,' +
        '"success_rate":0.65,"total_requests":100,"error_count":35}}',
    );
  });

  it("sends details {} when absent", () => {
    const { details: _d, ...bare } = base;
    expect(toWire(bare).details).toEqual({});
  });

  it("writes RFC 3339 UTC, with milliseconds only when there are some", () => {
    expect(rfc3339(new Date("2025-01-15T10:30:00.000Z"))).toBe("2025-01-15T10:30:00Z");
    expect(rfc3339(new Date("2025-01-15T10:30:00.120Z"))).toBe("2025-01-15T10:30:00.120Z");
  });

  it("turns errors into their message, with secrets redacted", () => {
    const cause = new Error("upstream said: refresh_token=RT-CANARY-123 is invalid");
    const err = new RefreshError("account-1", "invalid_grant", { cause, permanent: true });
    const wire = toWire(
      { ...base, details: { error: err, cause, nested: { list: [cause] } } },
      { secrets: ["RT-CANARY-123"] },
    );
    expect(wire.details.error).toBe(
      "failed to refresh OAuth token for credential account-1: invalid_grant",
    );
    expect(wire.details.cause).toBe("upstream said: refresh_token=[REDACTED] is invalid");
    expect(wire.details.nested).toEqual({
      list: ["upstream said: refresh_token=[REDACTED] is invalid"],
    });
    const text = JSON.stringify(wire);
    expect(text).not.toContain("RT-CANARY-123");
    expect(text).not.toContain("stack");
  });

  it("redacts secrets in the message and in detail strings", () => {
    const wire = toWire(
      { ...base, message: "token SECRET-1 failed", details: { note: "SECRET-1" } },
      { secrets: ["SECRET-1", undefined] },
    );
    expect(wire.message).toBe("token [REDACTED] failed");
    expect(wire.details.note).toBe("[REDACTED]");
  });

  it("redacts encoded secrets and credential headers in details", () => {
    const token = "1//0g-CANARY+rt/9=";
    const wire = toWire(
      {
        ...base,
        message: `POST body refresh_token=${encodeURIComponent(token)}`,
        details: {
          error: new Error(`sent ${new URLSearchParams({ refresh_token: token })}`),
          headers: { authorization: "Bearer CANARY-not-a-known-token", "set-cookie": ["a=b"] },
        },
      },
      { secrets: [token] },
    );
    const text = JSON.stringify(wire);
    expect(text).not.toContain("CANARY");
    expect(wire.details.headers).toEqual({
      authorization: "Bearer [REDACTED]",
      "set-cookie": ["[REDACTED]"],
    });
  });

  it("copies details into plain JSON whatever they hold", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const wire = toWire({
      ...base,
      details: {
        when: new Date("2025-01-01T00:00:00Z"),
        big: 10n,
        fn: () => 1,
        undef: undefined,
        nan: Number.NaN,
        cyclic,
        long: "x".repeat(5000),
        map: new Map([[1, 2]]),
        deep: { a: { b: { c: { d: { e: { f: 1 } } } } } },
      },
    });
    expect(wire.details).toMatchObject({
      when: "2025-01-01T00:00:00Z",
      big: "10",
      nan: "NaN",
      cyclic: { a: 1, self: "[Circular]" },
      map: "[Map]",
    });
    expect(wire.details).not.toHaveProperty("fn");
    expect(wire.details).not.toHaveProperty("undef");
    expect((wire.details.long as string).length).toBeLessThanOrEqual(1001);
    expect(JSON.stringify(wire.details.deep)).toContain("[Object]");
    expect(() => JSON.stringify(wire)).not.toThrow();
  });

  it("survives a getter that throws", () => {
    const details = {};
    Object.defineProperty(details, "boom", {
      enumerable: true,
      get() {
        throw new Error("nope");
      },
    });
    expect(toWire({ ...base, details }).details).toEqual({ boom: "[Unreadable]" });
  });

  it("throws TypeError for an invalid timestamp", () => {
    expect(() => toWire({ ...base, timestamp: new Date(Number.NaN) })).toThrow(TypeError);
  });
});
