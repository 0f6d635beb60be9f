/**
 * Observability end to end: a manager with monitoring on, a real webhook receiver on 127.0.0.1,
 * the Prometheus text read back through prom-client's own registry, and a scan for canary secrets
 * in everything the package produces.
 */

import { inspect } from "node:util";
import { Registry } from "prom-client";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import type { MonitoringConfig, OAuthCredentialSet } from "../src/types.js";
import { type Receiver, startReceiver } from "./support/webhook-receiver.js";

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

const monitoring = (url: string, over: Partial<MonitoringConfig> = {}): MonitoringConfig => ({
  webhookUrl: url,
  webhookEvents: ["refresh", "failure", "rotation", "expiry_warning", "decommission", "alert"],
  alertOnHighFailureRate: true,
  failureRateThreshold: 0.25,
  alertOnRefreshFailure: true,
  alertOnExpirySoon: true,
  expiryWarningTime: 86_400_000,
  allowPrivateWebhookTargets: true,
  webhookTimeout: 2_000,
  ...over,
});

const quiet = { warn() {}, error() {} };

describe("webhooks from the manager", () => {
  it("a refresh reaches the receiver in the documented body shape, signed", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const secret = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;
    const m = new OAuthKeyManager(
      "gemini",
      [{ id: "team", accessToken: "", refreshToken: "r" }],
      async (c) => ({ ...c, accessToken: "new", expiresAt: new Date(Date.now() + 3_600_000) }),
      { logger: quiet, monitoring: monitoring(receiver.url, { webhookSecret: secret }) },
    );
    await m.executeWithFailover(async () => ({ result: 1 }));
    await receiver.waitFor(1);
    const { body, headers } = receiver.received[0]!;
    const json = JSON.parse(body) as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual([
      "credential_id",
      "details",
      "message",
      "timestamp",
      "type",
    ]);
    expect(json).toMatchObject({ type: "refresh", credential_id: "team" });
    expect(json.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const verified = new Webhook(secret).verify(body, {
      "webhook-id": String(headers["webhook-id"]),
      "webhook-timestamp": String(headers["webhook-timestamp"]),
      "webhook-signature": String(headers["webhook-signature"]),
    });
    expect(verified).toEqual(json);
    const other = `whsec_${Buffer.from("another-secret-another-secret!!").toString("base64")}`;
    expect(() =>
      new Webhook(other).verify(body, {
        "webhook-id": String(headers["webhook-id"]),
        "webhook-timestamp": String(headers["webhook-timestamp"]),
        "webhook-signature": String(headers["webhook-signature"]),
      }),
    ).toThrow();
    await m.close();
  });

  it("a receiver that hangs never holds up requests", async () => {
    const receiver = await startReceiver("hang");
    receivers.push(receiver);
    const m = new OAuthKeyManager(
      "p",
      [{ id: "a", accessToken: "", refreshToken: "r" }],
      async (c) => ({ ...c, accessToken: "new", expiresAt: new Date(Date.now() + 3_600_000) }),
      { logger: quiet, monitoring: monitoring(receiver.url) },
    );
    const results = [];
    for (let i = 0; i < 20; i++)
      results.push(await m.executeWithFailover(async () => ({ result: i })));
    await receiver.waitFor(1);
    // every request finished while the one webhook was still unanswered
    expect(results).toHaveLength(20);
    expect(receiver.received).toHaveLength(1);
    await m.close();
  });

  it("alerts: high failure rate is raised once per cooldown, then again after it", async () => {
    let t = Date.UTC(2026, 0, 1);
    const m = new OAuthKeyManager("p", [{ id: "a", accessToken: "x" }], undefined, {
      now: () => t,
      logger: quiet,
    });
    expect(m.checkAlerts()).toEqual([]); // monitoring is off until configured
    const { webhookUrl: _none, ...noWebhook } = monitoring("http://127.0.0.1:9/x");
    m.setMonitoringConfig(noWebhook);
    for (let i = 0; i < 10; i++) m.recordRequest("a", 0, 1, i >= 4);
    const first = m.checkAlerts();
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      type: "failure",
      credentialId: "a",
      message: "High failure rate detected: 40.0%",
      details: { failure_rate: 0.4, total_requests: 10, error_count: 4 },
    });
    expect(m.checkAlerts()).toEqual([]);
    t += 3_600_000;
    expect(m.checkAlerts()).toHaveLength(1);
    await m.close();
  });

  it("an expired token that cannot be refreshed raises an expiry warning event", async () => {
    const t = Date.UTC(2026, 0, 1);
    const m = new OAuthKeyManager(
      "p",
      [{ id: "a", accessToken: "x", expiresAt: new Date(t - 1000) }],
      undefined,
      { now: () => t, logger: quiet },
    );
    m.setMonitoringConfig();
    const warnings: unknown[] = [];
    m.on("expiry_warning", (e) => warnings.push(e));
    const alerts = m.checkAlerts();
    expect(alerts.map((a) => a.type)).toEqual(["expiry_warning"]);
    expect(warnings).toEqual([{ credentialId: "a", expiresAt: new Date(t - 1000) }]);
    await m.close();
  });
});

describe("Prometheus text", () => {
  it("registers into a user's Registry and holds the expected samples", async () => {
    const m = new OAuthKeyManager("gemini", [
      { id: "a", accessToken: "x" },
      { id: "b", accessToken: "y" },
    ]);
    m.recordRequest("a", 10, 120, true);
    m.recordRequest("a", 5, 30, false);
    const registry = new Registry();
    m.metricsCollector().register(registry);
    const json = await registry.getMetricsAsJSON();
    const byName = new Map(json.map((metric) => [metric.name, metric]));
    const value = (name: string, credential: string) =>
      byName
        .get(name)
        ?.values.find((v) => v.labels.credential === credential && v.labels.provider === "gemini")
        ?.value;
    expect(value("oauthmanager_requests_total", "a")).toBe(2);
    expect(value("oauthmanager_successes_total", "a")).toBe(1);
    expect(value("oauthmanager_errors_total", "a")).toBe(1);
    expect(value("oauthmanager_tokens_used_total", "a")).toBe(15);
    expect(value("oauthmanager_credential_healthy", "b")).toBe(1);
    const text = await m.exportPrometheusText();
    expect(text).toContain(
      'oauthmanager_request_duration_seconds_bucket{provider="gemini",credential="a",le="0.05"} 1',
    );
    expect(text).toContain(
      'oauthmanager_request_duration_seconds_bucket{provider="gemini",credential="a",le="+Inf"} 2',
    );
    expect(text).toContain(
      'oauthmanager_request_duration_seconds_count{provider="gemini",credential="a"} 2',
    );
    expect(text).toMatch(/# TYPE oauthmanager_requests_total counter/);
  });
});

describe("no secret anywhere", () => {
  it("canary tokens and secrets appear in no export, error, event, log or webhook", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const canaries = {
      access: "CANARY-ACCESS-7f3a",
      refresh: "CANARY-REFRESH-91bc",
      client: "CANARY-CLIENT-SECRET-2d4e",
      freshAccess: "CANARY-FRESH-ACCESS-55aa",
      freshRefresh: "CANARY-FRESH-REFRESH-66bb",
    };
    const webhookSecret = `whsec_${Buffer.from("CANARY-WEBHOOK-SECRET-bytes-0001").toString("base64")}`;
    const captured: string[] = [];
    const capture = (...args: unknown[]) =>
      captured.push(args.map((a) => inspect(a, { depth: 10 })).join(" "));
    let refreshCalls = 0;
    const creds: OAuthCredentialSet[] = [
      {
        id: "cred-a",
        accessToken: canaries.access,
        refreshToken: canaries.refresh,
        clientSecret: canaries.client,
        expiresAt: new Date(Date.now() - 1000),
      },
      { id: "cred-b", accessToken: canaries.freshAccess, refreshToken: canaries.freshRefresh },
    ];
    const m = new OAuthKeyManager(
      "p",
      creds,
      async (cred) => {
        refreshCalls++;
        if (refreshCalls === 1) {
          // a token endpoint that echoes the refresh token back in its error
          throw Object.assign(
            new Error(`invalid refresh token ${cred.refreshToken} for ${cred.clientSecret}`),
            {
              status: 400,
              oauthError: "invalid_grant",
            },
          );
        }
        return { ...cred, accessToken: canaries.freshAccess };
      },
      {
        logger: { warn: capture, error: capture },
        monitoring: monitoring(receiver.url, { webhookSecret }),
      },
    );
    for (const name of [
      "refresh",
      "refresh_failure",
      "failure",
      "alert",
      "rotation",
      "decommission",
    ] as const) {
      m.on(name, (payload) => capture(name, payload, JSON.stringify(payload)));
    }
    const errors: unknown[] = [];
    // refresh failure (permanent), then requests whose errors quote the token
    for (let i = 0; i < 12; i++) {
      await m
        .executeWithFailover(async (cred) => {
          if (i % 2 === 0)
            throw Object.assign(new Error(`upstream rejected ${cred.accessToken}`), {
              status: 503,
            });
          return { result: i };
        })
        .catch((e: unknown) => errors.push(e));
    }
    await m.refreshCredential("cred-a", { force: true }).catch((e: unknown) => errors.push(e));
    m.checkAlerts();
    await m
      .markForRotation("cred-b", { id: "cred-c", accessToken: "CANARY-NEW-ACCESS-77cc" })
      .catch(() => {});
    await receiver.waitFor(1);
    await m.close();

    const outputs = [
      ...captured,
      ...errors.map(
        (e) => `${inspect(e, { depth: 10 })} ${(e as Error).message} ${JSON.stringify(e)}`,
      ),
      m.exportJSON(),
      JSON.stringify(m.getHealthSummary()),
      JSON.stringify(m.getAllMetrics()),
      JSON.stringify(m.exportPrometheus()),
      await m.exportPrometheusText(),
      ...receiver.received.map((r) => `${r.body} ${JSON.stringify(r.headers)}`),
    ].join("\n");
    expect(errors.length).toBeGreaterThan(0);
    expect(receiver.received.length).toBeGreaterThan(0);
    for (const canary of [
      ...Object.values(canaries),
      "CANARY-NEW-ACCESS-77cc",
      "CANARY-WEBHOOK-SECRET",
    ]) {
      expect(outputs).not.toContain(canary);
    }
    expect(outputs).not.toContain(webhookSecret);
  });
});
