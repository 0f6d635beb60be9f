import http from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { closeServer } from "../../test/support/close-server.js";
import { ClosedError, ConfigError } from "../errors.js";
import type { Logger, MonitoringConfig, WebhookEvent } from "../types.js";
import type { AlertSubject } from "./alerts.js";
import { defaultMonitoringConfig } from "./config.js";
import { Monitor } from "./monitor.js";

const HOUR = 3_600_000;
const servers: http.Server[] = [];
const monitors: Monitor[] = [];

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close({ timeoutMs: 0 })));
  await Promise.all(servers.splice(0).map(closeServer));
});

/** A receiver on 127.0.0.1 answering `status(i)` to the i-th request, recording bodies. */
async function receiver(status: (i: number) => number = () => 200) {
  const bodies: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const i = bodies.length;
      bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(status(i)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

const silent: Logger = { warn: () => {}, error: () => {} };

function makeMonitor(clock: { now: number }) {
  const m = new Monitor({
    provider: "gemini",
    now: () => clock.now,
    logger: silent,
    sender: { retryBaseMs: 1, maxAttempts: 1 },
  });
  monitors.push(m);
  return m;
}

function config(over: Partial<MonitoringConfig> = {}): MonitoringConfig {
  return { ...defaultMonitoringConfig(), allowPrivateWebhookTargets: true, ...over };
}

const failing: AlertSubject = {
  id: "a",
  requestCount: 20,
  errorCount: 10,
  successRate: 0.5,
  canRefresh: true,
  needsReauth: false,
  refreshFailing: false,
};

function lifecycle(type: WebhookEvent["type"], credentialId = "a"): WebhookEvent {
  return { type, credentialId, timestamp: new Date(0), message: `${type} happened` };
}

describe("Monitor", () => {
  it("is off until setConfig: publish, raise and check do nothing", () => {
    const m = makeMonitor({ now: 0 });
    expect(m.enabled).toBe(false);
    expect(m.getConfig()).toBeUndefined();
    m.publish(lifecycle("refresh"));
    expect(m.raise(lifecycle("failure"))).toBe(false);
    expect(m.check([failing])).toEqual([]);
    expect(m.stats()).toMatchObject({ sent: 0, queued: 0, alertCooldowns: 0 });
  });

  it("setConfig() with no argument uses the defaults", () => {
    const m = makeMonitor({ now: 0 });
    m.setConfig();
    expect(m.getConfig()).toEqual(defaultMonitoringConfig());
    expect(m.enabled).toBe(true);
  });

  it("check() returns alerts once per cooldown (injected clock)", () => {
    const clock = { now: 1_000_000 };
    const m = makeMonitor(clock);
    m.setConfig(config({ alertCooldown: HOUR }));
    expect(m.check([failing]).map((a) => a.message)).toEqual(["High failure rate detected: 50.0%"]);
    expect(m.check([failing])).toEqual([]);
    clock.now += HOUR - 1;
    expect(m.check([failing])).toEqual([]);
    clock.now += 1;
    expect(m.check([failing])).toHaveLength(1);
  });

  it("does not let a failure-rate alert hide a re-auth alert of the same credential", () => {
    const m = makeMonitor({ now: 0 });
    m.setConfig(config());
    expect(m.check([failing])).toHaveLength(1);
    const alerts = m.check([{ ...failing, needsReauth: true }]);
    expect(alerts.map((a) => a.message)).toEqual(["Credential needs re-authentication"]);
  });

  it("sends raised alerts and published events to the webhook, filtered by webhookEvents", async () => {
    const rx = await receiver();
    const m = makeMonitor({ now: Date.parse("2025-01-15T10:30:00Z") });
    m.setConfig(config({ webhookUrl: rx.url, webhookEvents: ["failure", "refresh"] }));
    m.publish(lifecycle("refresh"));
    m.publish(lifecycle("rotation")); // not subscribed
    m.publish(lifecycle("refresh")); // lifecycle events have no cooldown
    expect(m.check([failing])).toHaveLength(1);
    await m.close();
    expect(rx.bodies.map((b) => b.type)).toEqual(["refresh", "refresh", "failure"]);
    expect(rx.bodies[2]).toMatchObject({
      credential_id: "a",
      timestamp: "2025-01-15T10:30:00Z",
      details: { failure_rate: 0.5, total_requests: 20, error_count: 10 },
    });
    expect(m.stats()).toMatchObject({ sent: 3, failed: 0 });
  });

  it("releases the cooldown when the alert's delivery fails, so it is raised again", async () => {
    const rx = await receiver((i) => (i === 0 ? 400 : 200));
    const m = makeMonitor({ now: 0 });
    m.setConfig(config({ webhookUrl: rx.url }));
    expect(m.check([failing])).toHaveLength(1);
    await vi.waitFor(() => expect(m.stats().failed).toBe(1));
    expect(m.check([failing])).toHaveLength(1);
    await vi.waitFor(() => expect(m.stats().sent).toBe(1));
    // Delivered: now the cooldown holds.
    expect(m.check([failing])).toEqual([]);
    expect(rx.bodies).toHaveLength(2);
  });

  it("keeps the cooldown when the endpoint is disabled (410): no alert storm", async () => {
    const rx = await receiver(() => 410);
    const m = makeMonitor({ now: 0 });
    m.setConfig(config({ webhookUrl: rx.url }));
    expect(m.check([failing])).toHaveLength(1);
    await vi.waitFor(() => expect(m.stats().endpointDisabled).toBe(true));
    expect(m.check([failing])).toEqual([]);
    expect(rx.bodies).toHaveLength(1);
  });

  it("raises alerts without a webhook URL (the manager emits them itself)", () => {
    const m = makeMonitor({ now: 0 });
    m.setConfig(config());
    const alert = lifecycle("failure");
    expect(m.raise(alert)).toBe(true);
    expect(m.raise(alert)).toBe(false);
    m.forget("a");
    expect(m.raise(alert)).toBe(true);
  });

  it("rejects an invalid config with ConfigError and keeps the previous one", () => {
    const m = makeMonitor({ now: 0 });
    m.setConfig(config({ failureRateThreshold: 0.5 }));
    expect(() => m.setConfig(config({ failureRateThreshold: 2 }))).toThrow(ConfigError);
    expect(() =>
      m.setConfig(config({ webhookUrl: "ftp://x", allowPrivateWebhookTargets: false })),
    ).toThrow(ConfigError);
    expect(m.getConfig()?.failureRateThreshold).toBe(0.5);
  });

  it("getConfig() returns a copy", () => {
    const m = makeMonitor({ now: 0 });
    m.setConfig(config());
    m.getConfig()!.webhookEvents.push("alert");
    expect(m.getConfig()!.webhookEvents).not.toContain("alert");
  });

  it("getConfig() hides the webhook secret and the URL's path from inspect and JSON", () => {
    const secret = `whsec_${Buffer.from("CANARY-webhook-secret-bytes-0001").toString("base64")}`;
    // Slack and Discord keep their secret in the URL's path.
    const url = "https://hooks.slack.com/services/T000/B000/CANARYPATH?token=CANARYQUERY";
    const m = makeMonitor({ now: 0 });
    m.setConfig(
      config({ webhookUrl: url, webhookSecret: secret, allowPrivateWebhookTargets: false }),
    );
    const got = m.getConfig()!;
    const shown = `${inspect(got, { depth: Number.POSITIVE_INFINITY })} ${JSON.stringify(got)} ${inspect([got])}`;
    for (const canary of [secret, secret.slice(6), "CANARY", "T000"]) {
      expect(shown).not.toContain(canary);
    }
    expect(shown).toContain("https://hooks.slack.com");
    expect(JSON.parse(JSON.stringify(got))).toMatchObject({ webhookSecret: "[REDACTED]" });
    // Reading the fields still gives the real values.
    expect(got.webhookSecret).toBe(secret);
    expect(got.webhookUrl).toBe(url);
    expect({ ...got }.webhookSecret).toBe(secret);
  });

  it("replaces the sender when the URL changes and keeps counting across senders", async () => {
    const a = await receiver();
    const b = await receiver();
    const m = makeMonitor({ now: 0 });
    m.setConfig(config({ webhookUrl: a.url }));
    m.publish(lifecycle("refresh"));
    m.setConfig(config({ webhookUrl: b.url }));
    m.publish(lifecycle("refresh", "b"));
    await m.close();
    expect(a.bodies.map((x) => x.credential_id)).toEqual(["a"]);
    expect(b.bodies.map((x) => x.credential_id)).toEqual(["b"]);
    expect(m.stats()).toMatchObject({ sent: 2 });
  });

  it("close() with a receiver that never answers ends at the close limit, not the webhook timeout", async () => {
    const answered: http.ServerResponse[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      answered.push(res); // never answers
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      // As the manager builds it: no close option, the default 10 s webhook timeout.
      const m = makeMonitor({ now: 0 });
      m.setConfig(config({ webhookUrl: url }));
      m.publish(lifecycle("refresh"));
      await vi.waitFor(() => expect(answered).toHaveLength(1));
      let closed = false;
      void m.close().then(() => {
        closed = true;
      });
      await vi.advanceTimersByTimeAsync(1_999);
      expect(closed).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await vi.waitFor(() => expect(closed).toBe(true));
      expect(m.stats()).toMatchObject({ inFlight: 0, dropped: 1, failed: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it("close() is idempotent; afterwards nothing is sent and setConfig throws ClosedError", async () => {
    const m = makeMonitor({ now: 0 });
    m.setConfig(config());
    await m.close();
    await expect(m.close()).resolves.toBeUndefined();
    expect(m.raise(lifecycle("failure"))).toBe(false);
    expect(m.check([failing])).toEqual([]);
    expect(() => m.setConfig(config())).toThrow(ClosedError);
  });
});
