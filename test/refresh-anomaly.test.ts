/**
 * Refresh-anomaly alerts: a credential refreshing far more often than its token lifetime implies,
 * and a refresh token left unused so long that it may expire.
 */
import { afterEach, describe, expect, it } from "vitest";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import type { OAuthKeyManagerOptions } from "../src/manager/options.js";
import type { OAuthCredentialSet, RefreshFunc, WebhookEvent } from "../src/types.js";
import { alertsOnly, type Receiver, startReceiver } from "./support/webhook-receiver.js";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const DAY = 86_400_000;
const quiet = { warn() {}, error() {} };

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

function setup(
  lifetimeMs: number,
  options: OAuthKeyManagerOptions = { refreshAnomaly: {} },
  cred: Partial<OAuthCredentialSet> = {},
  provider = "internal",
) {
  let now = T0;
  let n = 0;
  const refreshFunc: RefreshFunc = async (c) => ({
    ...c,
    accessToken: `access-${++n}`,
    expiresAt: new Date(now + lifetimeMs),
  });
  const manager = new OAuthKeyManager(
    provider,
    [
      {
        id: "a",
        accessToken: "access-0",
        refreshToken: "refresh",
        expiresAt: new Date(T0 + lifetimeMs),
        ...cred,
      },
    ],
    refreshFunc,
    { now: () => now, logger: quiet, ...options },
  );
  manager.setMonitoringConfig(alertsOnly());
  const alerts: WebhookEvent[] = [];
  manager.on("alert", (a) => alerts.push(a));
  return {
    manager,
    alerts,
    reasons: () => alerts.map((a) => a.details?.reason),
    advance(ms: number) {
      now += ms;
    },
    refreshes: () => n,
  };
}

const op = async () => ({ result: "ok" });

describe("refresh anomalies", () => {
  it("a provider issuing tokens that expire at once raises one alert", async () => {
    // 60 s tokens against a 5 min buffer: every token is due the moment it arrives.
    const t = setup(MIN);
    for (let i = 0; i < 10; i++) {
      await t.manager.executeWithFailover(op);
      t.advance(30_000);
    }
    expect(t.refreshes()).toBeGreaterThanOrEqual(3);
    expect(t.reasons()).toEqual(["refresh_anomaly"]);
    expect(t.alerts[0]?.details?.cause).toBe("token_lifetime_within_buffer");
    expect(JSON.stringify(t.alerts)).not.toContain("access-");
    await t.manager.close();
  });

  it("a refresh loop with long-lived tokens is reported, with a webhook", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const t = setup(60 * MIN);
    t.manager.setMonitoringConfig(alertsOnly(receiver.url));
    for (let i = 0; i < 3; i++) {
      await t.manager.refreshCredential("a", { force: true });
      t.advance(MIN);
    }
    expect(t.reasons()).toEqual(["refresh_anomaly"]);
    expect(t.alerts[0]?.details?.cause).toBe("refreshing_too_often");
    await receiver.waitFor(1);
    expect(receiver.received[0]?.body).toContain("refresh_anomaly");
    await t.manager.close();
  });

  it("normal traffic over hours raises no anomaly", async () => {
    const t = setup(60 * MIN);
    for (let i = 0; i < 6 * 60; i++) {
      await t.manager.executeWithFailover(op);
      t.advance(MIN);
    }
    expect(t.refreshes()).toBeGreaterThanOrEqual(6);
    expect(t.alerts).toEqual([]);
    await t.manager.close();
  });

  it("stays off unless asked for", async () => {
    const t = setup(MIN, {});
    for (let i = 0; i < 10; i++) {
      await t.manager.executeWithFailover(op);
      t.advance(30_000);
    }
    expect(t.refreshes()).toBeGreaterThanOrEqual(3);
    expect(t.alerts).toEqual([]);
    await t.manager.close();
  });

  it("a refresh token unused past the Gemini default age raises an alert", async () => {
    const t = setup(
      60 * MIN,
      { refreshAnomaly: {} },
      { lastRefresh: new Date(T0 - 149 * DAY) },
      "gemini",
    );
    expect(t.manager.checkAlerts()).toEqual([]);
    t.advance(DAY + 1);
    const raised = t.manager.checkAlerts();
    expect(raised.map((a) => a.details?.reason)).toEqual(["refresh_token_idle"]);
    expect(t.reasons()).toEqual(["refresh_token_idle"]);
    await t.manager.close();
  });

  it("the idle age is configurable, and a provider without a documented one has none", async () => {
    const none = setup(60 * MIN, { refreshAnomaly: {} }, { lastRefresh: new Date(T0 - 400 * DAY) });
    expect(none.manager.checkAlerts()).toEqual([]);
    await none.manager.close();
    const set = setup(
      60 * MIN,
      { refreshAnomaly: { refreshTokenMaxIdleMs: 7 * DAY } },
      { lastRefresh: new Date(T0 - 8 * DAY) },
    );
    expect(set.manager.checkAlerts().map((a) => a.details?.reason)).toEqual(["refresh_token_idle"]);
    await set.manager.close();
  });

  it("refuses unknown and out-of-range settings", () => {
    expect(() => setup(MIN, { refreshAnomaly: { factr: 2 } as never })).toThrow(
      /refreshAnomaly\.factr/,
    );
    expect(() => setup(MIN, { refreshAnomaly: { minRefreshes: 1 } })).toThrow(/minRefreshes/);
  });
});
