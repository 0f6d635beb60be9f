/**
 * Monitoring configuration: its defaults and their validation.
 * @module
 */
import { MAX_TIMER_DELAY_MS } from "../clock.js";
import { describeSetting as describe } from "../describe.js";
import { ConfigError, type ConfigIssue } from "../errors.js";
import type { MonitoringConfig, WebhookEventType } from "../types.js";
import { isBlockedAddress, literalAddress } from "./target-guard.js";

/** Every webhook event type, in the order of {@link WebhookEventType}. */
export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = [
  "refresh",
  "failure",
  "rotation",
  "decommission",
  "expiry_warning",
  "alert",
];

/** One hour between two raisings of the same alert. */
export const DEFAULT_ALERT_COOLDOWN_MS = 3_600_000;
/** Ten seconds per webhook attempt. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * The monitoring defaults: no webhook URL; events `refresh`, `failure`, `rotation`,
 * `expiry_warning`; high-failure-rate alerts above 25 %; refresh-failure alerts; expiry warnings
 * 24 h ahead; a 1 h cooldown per alert; 10 s per webhook attempt. Returns a fresh object each call.
 */
export function defaultMonitoringConfig(): MonitoringConfig {
  return {
    webhookEvents: ["refresh", "failure", "rotation", "expiry_warning"],
    alertOnHighFailureRate: true,
    failureRateThreshold: 0.25,
    alertOnRefreshFailure: true,
    alertOnExpirySoon: true,
    expiryWarningTime: 24 * 3_600_000,
    alertCooldown: DEFAULT_ALERT_COOLDOWN_MS,
    webhookTimeout: DEFAULT_WEBHOOK_TIMEOUT_MS,
  };
}

/** A Standard Webhooks secret: `whsec_` + canonical base64 of 24–64 bytes. */
const SECRET_PREFIX = "whsec_";
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Why `secret` is not a usable Standard Webhooks secret, or `undefined` when it is. The message
 * never quotes the secret.
 */
export function webhookSecretIssue(secret: unknown): string | undefined {
  const expected =
    "must be a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 random bytes";
  if (typeof secret !== "string") return `${expected}, got ${typeof secret}`;
  if (!secret.startsWith(SECRET_PREFIX)) return expected;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (b64.length % 4 !== 0 || !BASE64.test(b64)) return expected;
  const bytes = Buffer.from(b64, "base64");
  // Buffer decoding is lenient; re-encoding catches non-canonical padding bits.
  if (bytes.toString("base64") !== b64) return expected;
  if (bytes.length < 24 || bytes.length > 64) {
    return `${expected} (the secret decodes to ${bytes.length} bytes)`;
  }
  return undefined;
}

/**
 * Why `url` is not an acceptable webhook URL, or `undefined` when it is: it must parse, be
 * `http:` or `https:`, carry no userinfo, and (unless `allowPrivate`) not name a literal loopback,
 * private or link-local address. Host names are resolved only when sending. The message
 * never quotes the URL, whose query string may hold a token.
 */
export function webhookUrlIssue(url: unknown, allowPrivate: boolean): string | undefined {
  if (typeof url !== "string") return `must be a URL string, got ${typeof url}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an absolute http: or https: URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `must use http: or https:, got ${parsed.protocol}`;
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return "must not contain a user name or password (put credentials in webhookSecret)";
  }
  if (!allowPrivate) {
    const literal = literalAddress(parsed);
    if (literal !== undefined && isBlockedAddress(literal)) {
      return "points at a loopback, private or link-local address; set allowPrivateWebhookTargets to allow it";
    }
  }
  return undefined;
}

/**
 * Checks a monitoring configuration, reporting every problem at once.
 *
 * @throws {ConfigError} naming each offending field (`webhookUrl`, `webhookSecret`,
 *   `failureRateThreshold`, …). Messages never echo the URL or the secret.
 */
export function validateMonitoringConfig(config: MonitoringConfig): void {
  const issues: ConfigIssue[] = [];
  if (typeof config !== "object" || config === null) {
    throw new ConfigError([
      { path: "", message: `expected a monitoring config object, got ${describe(config)}` },
    ]);
  }
  const c = config as unknown as Record<string, unknown>;
  const add = (path: string, message: string) => issues.push({ path, message });

  const allowPrivate = c.allowPrivateWebhookTargets;
  if (allowPrivate !== undefined && typeof allowPrivate !== "boolean") {
    add("allowPrivateWebhookTargets", `must be a boolean, got ${describe(allowPrivate)}`);
  }
  if (c.webhookUrl !== undefined) {
    const issue = webhookUrlIssue(c.webhookUrl, allowPrivate === true);
    if (issue) add("webhookUrl", issue);
  }
  if (c.webhookSecret !== undefined) {
    const issue = webhookSecretIssue(c.webhookSecret);
    if (issue) add("webhookSecret", issue);
  }

  if (!Array.isArray(c.webhookEvents)) {
    add("webhookEvents", `must be an array of event types, got ${describe(c.webhookEvents)}`);
  } else {
    c.webhookEvents.forEach((t: unknown, i) => {
      if (!WEBHOOK_EVENT_TYPES.includes(t as WebhookEventType)) {
        add(
          `webhookEvents[${i}]`,
          `must be one of ${WEBHOOK_EVENT_TYPES.join(", ")}, got ${describe(t)}`,
        );
      }
    });
  }

  for (const key of ["alertOnHighFailureRate", "alertOnRefreshFailure", "alertOnExpirySoon"]) {
    if (typeof c[key] !== "boolean") add(key, `must be a boolean, got ${describe(c[key])}`);
  }

  const t = c.failureRateThreshold;
  if (typeof t !== "number" || !(t >= 0 && t <= 1)) {
    add("failureRateThreshold", `must be a number from 0 to 1, got ${describe(t)}`);
  }

  checkDuration(c.expiryWarningTime, "expiryWarningTime", false, add);
  if (c.alertCooldown !== undefined) checkDuration(c.alertCooldown, "alertCooldown", false, add);
  if (c.webhookTimeout !== undefined) checkDuration(c.webhookTimeout, "webhookTimeout", true, add);

  if (issues.length > 0) throw new ConfigError(issues);
}

function checkDuration(
  v: unknown,
  path: string,
  isTimer: boolean,
  add: (path: string, message: string) => void,
): void {
  if (isTimer) {
    // A timeout goes to setTimeout, which fires at once for anything above 2^31−1 ms.
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || v > MAX_TIMER_DELAY_MS) {
      add(path, `must be milliseconds from 1 to ${MAX_TIMER_DELAY_MS}, got ${describe(v)}`);
    }
  } else if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    add(path, `must be a finite number of milliseconds >= 0, got ${describe(v)}`);
  }
}
