import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import type { MonitoringConfig } from "../types.js";
import { defaultMonitoringConfig, validateMonitoringConfig } from "./config.js";

function issuesOf(config: unknown): { path: string; message: string }[] {
  try {
    validateMonitoringConfig(config as MonitoringConfig);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).issues];
  }
  return [];
}

const withDefaults = (over: Record<string, unknown>) => ({ ...defaultMonitoringConfig(), ...over });

describe("defaultMonitoringConfig", () => {
  it("has the documented defaults", () => {
    expect(defaultMonitoringConfig()).toEqual({
      webhookEvents: ["refresh", "failure", "rotation", "expiry_warning"],
      alertOnHighFailureRate: true,
      failureRateThreshold: 0.25,
      alertOnRefreshFailure: true,
      alertOnExpirySoon: true,
      expiryWarningTime: 86_400_000,
      alertCooldown: 3_600_000,
      webhookTimeout: 10_000,
    });
    expect(defaultMonitoringConfig().webhookUrl).toBeUndefined();
  });

  it("returns a fresh object each call", () => {
    const a = defaultMonitoringConfig();
    a.webhookEvents.push("alert");
    expect(defaultMonitoringConfig().webhookEvents).not.toContain("alert");
  });

  it("passes its own validation", () => {
    expect(issuesOf(defaultMonitoringConfig())).toEqual([]);
  });
});

describe("validateMonitoringConfig", () => {
  it("accepts http: and https: URLs and a well-formed secret", () => {
    for (const webhookUrl of [
      "https://hooks.example.com/x?token=abc",
      "http://hooks.example.com",
    ]) {
      const secret = `whsec_${randomBytes(32).toString("base64")}`;
      expect(issuesOf(withDefaults({ webhookUrl, webhookSecret: secret }))).toEqual([]);
    }
    for (const n of [24, 64]) {
      const secret = `whsec_${randomBytes(n).toString("base64")}`;
      expect(issuesOf(withDefaults({ webhookSecret: secret }))).toEqual([]);
    }
  });

  it.each([
    ["not a url ?token=CANARY"],
    ["ftp://example.com/?token=CANARY"],
    ["file:///etc/passwd?CANARY"],
    ["javascript:alert('CANARY')"],
    ["https://user:CANARY@example.com/"],
    ["https://CANARY@example.com/"],
  ])("rejects webhookUrl %s without echoing it", (webhookUrl) => {
    const issues = issuesOf(withDefaults({ webhookUrl }));
    expect(issues.map((i) => i.path)).toEqual(["webhookUrl"]);
    expect(JSON.stringify(issues)).not.toContain("CANARY");
  });

  it("rejects a literal private address unless allowPrivateWebhookTargets", () => {
    for (const webhookUrl of [
      "http://127.0.0.1:8080/hook",
      "http://2130706433/",
      "http://[::1]/",
      "http://169.254.169.254/",
    ]) {
      expect(issuesOf(withDefaults({ webhookUrl })).map((i) => i.path)).toEqual(["webhookUrl"]);
      expect(issuesOf(withDefaults({ webhookUrl, allowPrivateWebhookTargets: true }))).toEqual([]);
    }
  });

  it.each([
    ["no prefix", randomBytes(32).toString("base64")],
    ["too short", `whsec_${randomBytes(16).toString("base64")}`],
    ["too long", `whsec_${randomBytes(65).toString("base64")}`],
    ["not base64", `whsec_${"!".repeat(44)}`],
    ["bad padding", `whsec_${randomBytes(32).toString("base64").replace(/=+$/, "")}`],
  ])("rejects a webhookSecret with %s, without echoing it", (_why, webhookSecret) => {
    const issues = issuesOf(withDefaults({ webhookSecret }));
    expect(issues.map((i) => i.path)).toEqual(["webhookSecret"]);
    const text = JSON.stringify(issues);
    expect(text).not.toContain(webhookSecret);
    expect(text).not.toContain(webhookSecret.replace(/^whsec_/, "").slice(0, 12));
  });

  it.each([
    [{ failureRateThreshold: 1.5 }, "failureRateThreshold"],
    [{ failureRateThreshold: -0.1 }, "failureRateThreshold"],
    [{ failureRateThreshold: Number.NaN }, "failureRateThreshold"],
    [{ expiryWarningTime: -1 }, "expiryWarningTime"],
    [{ expiryWarningTime: Number.POSITIVE_INFINITY }, "expiryWarningTime"],
    [{ alertCooldown: Number.NaN }, "alertCooldown"],
    [{ webhookTimeout: 0 }, "webhookTimeout"],
    [{ webhookTimeout: 2 ** 31 }, "webhookTimeout"],
    [{ webhookEvents: ["refresh", "bogus"] }, "webhookEvents[1]"],
    [{ webhookEvents: "refresh" }, "webhookEvents"],
    [{ alertOnExpirySoon: "yes" }, "alertOnExpirySoon"],
    [{ allowPrivateWebhookTargets: 1 }, "allowPrivateWebhookTargets"],
  ])("rejects %o at %s", (over, path) => {
    expect(issuesOf(withDefaults(over)).map((i) => i.path)).toEqual([path]);
  });

  it("accepts boundary values", () => {
    expect(
      issuesOf(withDefaults({ failureRateThreshold: 0, expiryWarningTime: 0, alertCooldown: 0 })),
    ).toEqual([]);
    expect(issuesOf(withDefaults({ failureRateThreshold: 1 }))).toEqual([]);
  });

  it("reports every problem at once", () => {
    const issues = issuesOf(
      withDefaults({
        webhookUrl: "ftp://x",
        failureRateThreshold: 2,
        expiryWarningTime: -5,
        webhookSecret: "nope",
      }),
    );
    expect(issues.map((i) => i.path).sort()).toEqual([
      "expiryWarningTime",
      "failureRateThreshold",
      "webhookSecret",
      "webhookUrl",
    ]);
  });

  it("rejects a non-object", () => {
    expect(issuesOf(null).map((i) => i.path)).toEqual([""]);
  });
});
