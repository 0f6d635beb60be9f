/**
 * One manager's monitoring: its configuration, its alert cooldowns and its webhook sender.
 * @module
 */
import type { Clock } from "../clock.js";
import { ClosedError } from "../errors.js";
import { redactingCopy } from "../redacting-view.js";
import type { Logger, MonitoringConfig, WebhookEvent } from "../types.js";
import { AlertCooldown, type AlertSubject, alertKey, evaluateAlerts } from "./alerts.js";
import {
  DEFAULT_ALERT_COOLDOWN_MS,
  defaultMonitoringConfig,
  validateMonitoringConfig,
} from "./config.js";
import { MONITORING_CONFIG_VIEW } from "./config-view.js";
import type { LookupFn } from "./target-guard.js";
import {
  type CloseOptions,
  type DeliveryInfo,
  WebhookSender,
  type WebhookSenderOptions,
  type WebhookSenderStats,
} from "./webhook-sender.js";

/** Options of {@link Monitor}. */
export interface MonitorOptions {
  /** Names the provider in log lines. */
  provider: string;
  now: Clock;
  logger: Logger;
  /** Resolves webhook hosts. @default dns.promises.lookup */
  lookup?: LookupFn;
  /** Queue and retry tuning of the webhook sender (defaults as in {@link WebhookSenderOptions}). */
  sender?: Pick<
    WebhookSenderOptions,
    "maxQueue" | "maxAttempts" | "retryBaseMs" | "maxRetryDelayMs" | "random" | "closeTimeoutMs"
  >;
  /** Bound of the alert cooldown store. @default 10_000 */
  maxAlertEntries?: number;
}

/** Webhook counters over every sender this monitor has had, and the cooldown store's size. */
export interface MonitorStats extends WebhookSenderStats {
  /** (alert, credential) pairs currently remembered by the cooldown. */
  alertCooldowns: number;
}

const ZERO: Omit<WebhookSenderStats, "endpointDisabled"> = {
  queued: 0,
  inFlight: 0,
  sent: 0,
  failed: 0,
  dropped: 0,
  disabled: 0,
};

/**
 * Ties alert rules, cooldowns and webhook delivery together for one manager. Monitoring is off
 * until {@link setConfig}: before that `publish`, `raise` and `check` do nothing.
 *
 * Lifecycle events go through {@link publish} (no cooldown); alerts through {@link raise} or
 * {@link check} (one per alert and credential per `alertCooldown`). Nothing here throws at the
 * caller or waits for the network.
 */
export class Monitor {
  readonly #provider: string;
  readonly #now: Clock;
  readonly #logger: Logger;
  readonly #lookup: LookupFn | undefined;
  readonly #senderTuning: MonitorOptions["sender"];
  readonly #cooldown: AlertCooldown;
  /** Alerts handed to the sender, so a failed delivery can release its cooldown. */
  readonly #pendingAlerts = new WeakMap<
    WebhookEvent,
    { key: string; holder: object | undefined }
  >();
  #config: MonitoringConfig | undefined;
  #sender: WebhookSender | undefined;
  #senderKey: string | undefined;
  /** Replaced senders still flushing; their counters stay in {@link stats}. */
  readonly #retiring = new Set<WebhookSender>();
  #retired = { ...ZERO };
  #closePromise: Promise<void> | undefined;

  constructor(opts: MonitorOptions) {
    this.#provider = opts.provider;
    this.#now = opts.now;
    this.#logger = opts.logger;
    this.#lookup = opts.lookup;
    this.#senderTuning = opts.sender;
    this.#cooldown = new AlertCooldown({
      now: opts.now,
      ...(opts.maxAlertEntries === undefined ? {} : { maxEntries: opts.maxAlertEntries }),
    });
  }

  /**
   * Turns monitoring on with `config` (the defaults when undefined). A changed webhook URL,
   * secret, timeout or private-target setting replaces the sender; the old one flushes in the
   * background.
   *
   * @throws {ConfigError} when `config` is invalid; the previous configuration stays.
   * @throws {ClosedError} after {@link close}.
   */
  setConfig(config?: MonitoringConfig): void {
    if (this.#closePromise) throw new ClosedError("monitor");
    const next = config === undefined ? defaultMonitoringConfig() : copyConfig(config);
    validateMonitoringConfig(next);
    this.#config = next;
    const key =
      next.webhookUrl === undefined
        ? undefined
        : JSON.stringify([
            next.webhookUrl,
            next.webhookSecret ?? null,
            next.webhookTimeout ?? null,
            next.allowPrivateWebhookTargets ?? false,
          ]);
    if (key === this.#senderKey) return;
    this.#retire();
    this.#senderKey = key;
    if (next.webhookUrl !== undefined) this.#sender = this.#createSender(next, next.webhookUrl);
  }

  /**
   * A copy of the configuration in force, or `undefined` while monitoring is off. Logging or
   * serialising it shows neither the webhook secret nor the webhook URL beyond its origin.
   */
  getConfig(): MonitoringConfig | undefined {
    return this.#config === undefined ? undefined : copyConfig(this.#config);
  }

  /** True once {@link setConfig} was called. */
  get enabled(): boolean {
    return this.#config !== undefined && this.#closePromise === undefined;
  }

  /**
   * Sends a lifecycle event (refresh, rotation, …) to the webhook when one is configured and the
   * event's type is in `webhookEvents`. No cooldown. Never throws.
   */
  publish(event: WebhookEvent): void {
    const config = this.#config;
    if (!config || this.#closePromise || !this.#sender) return;
    if (config.webhookEvents.includes(event.type)) this.#sender.enqueue(event);
  }

  /**
   * Raises an alert unless the same alert (type, and re-authentication vs. failure rate) for the
   * same credential was raised within `alertCooldown`. A raised alert goes to the webhook when its
   * type is in `webhookEvents`; if its delivery then fails (or it is dropped from a full queue),
   * the cooldown is released so it can be raised again. Never throws.
   *
   * @param cooldownMs replaces the configured cooldown for this alert
   * @returns whether the alert was raised (false: monitoring off, or suppressed by the cooldown).
   */
  raise(alert: WebhookEvent, cooldownMs?: number): boolean {
    const config = this.#config;
    if (!config || this.#closePromise) return false;
    const key = alertKey(alert);
    const cooldown = cooldownMs ?? config.alertCooldown ?? DEFAULT_ALERT_COOLDOWN_MS;
    if (!this.#cooldown.tryAcquire(key, alert.credentialId, cooldown)) return false;
    const sender = this.#sender;
    if (sender && config.webhookEvents.includes(alert.type)) {
      const holder = this.#cooldown.holder(key, alert.credentialId);
      this.#pendingAlerts.set(alert, { key, holder });
      if (!sender.enqueue(alert) && !sender.stats().endpointDisabled) {
        this.#pendingAlerts.delete(alert);
        this.#cooldown.release(key, alert.credentialId, holder);
      }
    }
    return true;
  }

  /**
   * Evaluates the alert rules over `subjects` and raises each alert due.
   * @returns the alerts raised now, without those suppressed by the cooldown; `[]` while
   *   monitoring is off.
   */
  check(subjects: Iterable<AlertSubject>): WebhookEvent[] {
    const config = this.#config;
    if (!config || this.#closePromise) return [];
    return evaluateAlerts(subjects, config, this.#now()).filter((a) => this.raise(a));
  }

  /** Forgets a removed credential's alert history. */
  forget(credentialId: string): void {
    this.#cooldown.forget(credentialId);
  }

  /** Webhook counters summed over every sender this monitor had, and the cooldown store size. */
  stats(): MonitorStats {
    const total = { ...this.#retired };
    for (const s of [...this.#retiring, ...(this.#sender ? [this.#sender] : [])]) {
      const st = s.stats();
      total.queued += st.queued;
      total.inFlight += st.inFlight;
      total.sent += st.sent;
      total.failed += st.failed;
      total.dropped += st.dropped;
      total.disabled += st.disabled;
    }
    return {
      ...total,
      endpointDisabled: this.#sender?.stats().endpointDisabled ?? false,
      alertCooldowns: this.#cooldown.size,
    };
  }

  /**
   * Stops monitoring and flushes webhook deliveries (see {@link WebhookSender.close}).
   * Idempotent; never rejects.
   */
  close(opts: CloseOptions = {}): Promise<void> {
    this.#closePromise ??= (async () => {
      const senders = [...this.#retiring, ...(this.#sender ? [this.#sender] : [])];
      await Promise.all(senders.map((s) => s.close(opts)));
    })();
    return this.#closePromise;
  }

  /** {@link close} with the default deadline. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #createSender(config: MonitoringConfig, url: string): WebhookSender {
    const opts: WebhookSenderOptions = {
      url,
      allowPrivateTargets: config.allowPrivateWebhookTargets ?? false,
      now: this.#now,
      logger: this.#logger,
      provider: this.#provider,
      onFailed: (event, info) => this.#onFailed(event, info),
      onDelivered: (event) => this.#pendingAlerts.delete(event),
      ...this.#senderTuning,
    };
    if (config.webhookSecret !== undefined) opts.secret = config.webhookSecret;
    if (config.webhookTimeout !== undefined) opts.timeoutMs = config.webhookTimeout;
    if (this.#lookup) opts.lookup = this.#lookup;
    return new WebhookSender(opts);
  }

  #onFailed(event: WebhookEvent, info: DeliveryInfo): void {
    const pending = this.#pendingAlerts.get(event);
    if (pending === undefined) return;
    this.#pendingAlerts.delete(event);
    // A disabled endpoint or a shutdown will not deliver a re-raised alert either; releasing
    // would only repeat it on every check.
    if (info.reason === "disabled" || info.reason === "closed") return;
    this.#cooldown.release(pending.key, event.credentialId, pending.holder);
  }

  #retire(): void {
    const old = this.#sender;
    this.#sender = undefined;
    if (!old) return;
    this.#retiring.add(old);
    void old.close().then(() => {
      const st = old.stats();
      this.#retired.sent += st.sent;
      this.#retired.failed += st.failed;
      this.#retired.dropped += st.dropped;
      this.#retired.disabled += st.disabled;
      this.#retiring.delete(old);
    });
  }
}

/** A copy that shows neither the webhook secret nor the URL's path when logged or serialised. */
function copyConfig(c: MonitoringConfig): MonitoringConfig {
  return redactingCopy(MONITORING_CONFIG_VIEW, {
    ...c,
    webhookEvents: Array.isArray(c.webhookEvents) ? [...c.webhookEvents] : c.webhookEvents,
  });
}
