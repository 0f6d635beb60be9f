import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MonitoringConfig } from "../types.js";
import {
  AlertCooldown,
  type AlertSubject,
  alertKey,
  evaluateAlerts,
  formatDuration,
} from "./alerts.js";
import { defaultMonitoringConfig } from "./config.js";

const NOW = Date.parse("2025-01-15T10:30:00Z");
const HOUR = 3_600_000;

function subject(over: Partial<AlertSubject> = {}): AlertSubject {
  return {
    id: "account-1",
    requestCount: 0,
    errorCount: 0,
    successRate: 1,
    canRefresh: true,
    needsReauth: false,
    refreshFailing: false,
    ...over,
  };
}

const config = (over: Partial<MonitoringConfig> = {}): MonitoringConfig => ({
  ...defaultMonitoringConfig(),
  ...over,
});

describe("evaluateAlerts: high failure rate", () => {
  it("alerts above the threshold over at least 10 requests, in the documented words", () => {
    const alerts = evaluateAlerts(
      [subject({ requestCount: 100, errorCount: 35, successRate: 0.65 })],
      config(),
      NOW,
    );
    expect(alerts).toEqual([
      {
        type: "failure",
        credentialId: "account-1",
        timestamp: new Date(NOW),
        message: "High failure rate detected: 35.0%",
        details: { failure_rate: 0.35, success_rate: 0.65, total_requests: 100, error_count: 35 },
      },
    ]);
  });

  it("needs at least 10 requests", () => {
    expect(evaluateAlerts([subject({ requestCount: 9, errorCount: 9 })], config(), NOW)).toEqual(
      [],
    );
    expect(
      evaluateAlerts([subject({ requestCount: 10, errorCount: 9 })], config(), NOW),
    ).toHaveLength(1);
  });

  it("is strictly above the threshold", () => {
    expect(evaluateAlerts([subject({ requestCount: 100, errorCount: 25 })], config(), NOW)).toEqual(
      [],
    );
    expect(
      evaluateAlerts([subject({ requestCount: 100, errorCount: 26 })], config(), NOW),
    ).toHaveLength(1);
  });

  it("is off with alertOnHighFailureRate false", () => {
    expect(
      evaluateAlerts(
        [subject({ requestCount: 100, errorCount: 90 })],
        config({ alertOnHighFailureRate: false }),
        NOW,
      ),
    ).toEqual([]);
  });
});

describe("evaluateAlerts: expiry", () => {
  it("says nothing about a token that refreshes itself", () => {
    const s = subject({ expiresAt: new Date(NOW + HOUR) });
    expect(evaluateAlerts([s], config(), NOW)).toEqual([]);
    const expired = subject({ expiresAt: new Date(NOW - HOUR) });
    expect(evaluateAlerts([expired], config(), NOW)).toEqual([]);
  });

  it("warns within expiryWarningTime about a token without refresh", () => {
    const expiresAt = new Date(NOW + 2 * HOUR + 5 * 60_000);
    const [alert] = evaluateAlerts([subject({ expiresAt, canRefresh: false })], config(), NOW);
    expect(alert).toEqual({
      type: "expiry_warning",
      credentialId: "account-1",
      timestamp: new Date(NOW),
      message: "Token expires in 2h 5m",
      details: {
        expires_at: "2025-01-15T12:35:00Z",
        expires_in_seconds: 7500,
        reason: "cannot_refresh",
      },
    });
  });

  it("does not warn earlier than expiryWarningTime", () => {
    const s = subject({ expiresAt: new Date(NOW + 25 * HOUR), canRefresh: false });
    expect(evaluateAlerts([s], config(), NOW)).toEqual([]);
    expect(evaluateAlerts([s], config({ expiryWarningTime: 26 * HOUR }), NOW)).toHaveLength(1);
  });

  it("says an expired token cannot be refreshed", () => {
    const s = subject({ expiresAt: new Date(NOW - 90_000), refreshFailing: true });
    const [alert] = evaluateAlerts([s], config(), NOW);
    expect(alert?.message).toBe("Token expired and cannot be refreshed");
    expect(alert?.details).toMatchObject({ expires_in_seconds: -90, reason: "refresh_failing" });
  });

  it("names needs_reauth first among reasons", () => {
    const s = subject({
      expiresAt: new Date(NOW + HOUR),
      needsReauth: true,
      canRefresh: false,
      refreshFailing: true,
    });
    const alerts = evaluateAlerts([s], config(), NOW);
    expect(alerts.map((a) => a.type)).toEqual(["failure", "expiry_warning"]);
    expect(alerts[1]?.details?.reason).toBe("needs_reauth");
  });

  it("skips tokens without expiry, invalid dates, and alertOnExpirySoon false", () => {
    const subjects = [
      subject({ canRefresh: false }),
      subject({ canRefresh: false, expiresAt: new Date(Number.NaN) }),
    ];
    expect(evaluateAlerts(subjects, config(), NOW)).toEqual([]);
    const s = subject({ canRefresh: false, expiresAt: new Date(NOW) });
    expect(evaluateAlerts([s], config({ alertOnExpirySoon: false }), NOW)).toEqual([]);
  });
});

describe("evaluateAlerts: re-authentication", () => {
  it("alerts once per credential needing re-auth", () => {
    const alerts = evaluateAlerts(
      [subject({ needsReauth: true }), subject({ id: "b" })],
      config(),
      NOW,
    );
    expect(alerts).toEqual([
      {
        type: "failure",
        credentialId: "account-1",
        timestamp: new Date(NOW),
        message: "Credential needs re-authentication",
        details: { reason: "needs_reauth" },
      },
    ]);
    expect(
      evaluateAlerts(
        [subject({ needsReauth: true })],
        config({ alertOnRefreshFailure: false }),
        NOW,
      ),
    ).toEqual([]);
  });

  it("keys the re-auth alert apart from the failure-rate alert", () => {
    const alerts = evaluateAlerts(
      [subject({ needsReauth: true, requestCount: 10, errorCount: 10 })],
      config(),
      NOW,
    );
    expect(alerts.map(alertKey)).toEqual(["failure", "failure:needs_reauth"]);
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [59_999, "59s"],
    [61_000, "1m 1s"],
    [3_600_000, "1h"],
    [90_061_000, "1d 1h"],
  ])("%d ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("AlertCooldown", () => {
  it("suppresses a repeat within the cooldown and lets it through after", () => {
    let now = NOW;
    const cd = new AlertCooldown({ now: () => now });
    expect(cd.tryAcquire("failure", "a", HOUR)).toBe(true);
    expect(cd.tryAcquire("failure", "a", HOUR)).toBe(false);
    // Other type or credential: independent.
    expect(cd.tryAcquire("expiry_warning", "a", HOUR)).toBe(true);
    expect(cd.tryAcquire("failure", "b", HOUR)).toBe(true);
    now += HOUR - 1;
    expect(cd.tryAcquire("failure", "a", HOUR)).toBe(false);
    now += 1;
    expect(cd.tryAcquire("failure", "a", HOUR)).toBe(true);
    expect(cd.tryAcquire("failure", "a", HOUR)).toBe(false);
  });

  it("release() lets a failed send be raised again", () => {
    const cd = new AlertCooldown({ now: () => NOW });
    expect(cd.tryAcquire("failure", "a", HOUR)).toBe(true);
    cd.release("failure", "a");
    expect(cd.tryAcquire("failure", "a", HOUR)).toBe(true);
    expect(cd.tryAcquire("failure", "a", HOUR)).toBe(false);
  });

  it("forget() drops every alert of a credential", () => {
    const cd = new AlertCooldown({ now: () => NOW });
    cd.tryAcquire("failure", "a", HOUR);
    cd.tryAcquire("expiry_warning", "a", HOUR);
    cd.tryAcquire("failure", "b", HOUR);
    cd.forget("a");
    expect(cd.size).toBe(1);
    expect(cd.tryAcquire("failure", "a", HOUR)).toBe(true);
    expect(cd.tryAcquire("failure", "b", HOUR)).toBe(false);
  });

  it("records nothing for a zero cooldown", () => {
    const cd = new AlertCooldown({ now: () => NOW });
    expect(cd.tryAcquire("failure", "a", 0)).toBe(true);
    expect(cd.tryAcquire("failure", "a", 0)).toBe(true);
    expect(cd.size).toBe(0);
  });

  it("stays bounded, evicting expired entries first, then the oldest", () => {
    let now = NOW;
    const cd = new AlertCooldown({ now: () => now, maxEntries: 3 });
    cd.tryAcquire("failure", "short", 10);
    cd.tryAcquire("failure", "old", HOUR);
    cd.tryAcquire("failure", "mid", HOUR);
    now += 10;
    cd.tryAcquire("failure", "new", HOUR); // "short" has expired and goes first
    expect(cd.size).toBe(3);
    expect(cd.tryAcquire("failure", "old", HOUR)).toBe(false);
    cd.tryAcquire("failure", "newer", HOUR); // full of live entries: "old" goes
    expect(cd.size).toBe(3);
    expect(cd.tryAcquire("failure", "mid", HOUR)).toBe(false);
    expect(cd.tryAcquire("failure", "old", HOUR)).toBe(true);
  });

  it("never holds more than maxEntries whatever the sequence (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(
          fc.record({
            op: fc.constantFrom("acquire", "release", "forget", "tick"),
            cred: fc.integer({ min: 0, max: 40 }),
            type: fc.constantFrom("failure", "expiry_warning"),
            ms: fc.integer({ min: 0, max: 5_000 }),
          }),
          { maxLength: 200 },
        ),
        (max, ops) => {
          let now = 0;
          const cd = new AlertCooldown({ now: () => now, maxEntries: max });
          for (const o of ops) {
            if (o.op === "acquire") cd.tryAcquire(o.type, `c${o.cred}`, o.ms);
            else if (o.op === "release") cd.release(o.type, `c${o.cred}`);
            else if (o.op === "forget") cd.forget(`c${o.cred}`);
            else now += o.ms;
            if (cd.size > max) return false;
          }
          return true;
        },
      ),
    );
  });

  it("rejects a bad maxEntries", () => {
    expect(() => new AlertCooldown({ now: () => 0, maxEntries: 0 })).toThrow(RangeError);
  });
});
