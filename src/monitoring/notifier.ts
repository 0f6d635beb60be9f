/**
 * What the manager's parts tell the outside world beyond events: lifecycle webhooks and
 * deduplicated alerts. A thin layer over the {@link Monitor}, so a part needs only this.
 * @module
 */
import type { Clock } from "../clock.js";
import type { ManagerEvents, TypedEmitter } from "../events.js";
import type { WebhookEvent } from "../types.js";
import type { Monitor } from "./monitor.js";

export class Notifier {
  readonly #monitor: Monitor;
  readonly #now: Clock;
  readonly #events: TypedEmitter<ManagerEvents>;

  constructor(monitor: Monitor, now: Clock, events: TypedEmitter<ManagerEvents>) {
    this.#monitor = monitor;
    this.#now = now;
    this.#events = events;
  }

  /** Whether refresh failures raise alerts (monitoring on and `alertOnRefreshFailure`). */
  get alertsOnRefreshFailure(): boolean {
    return this.#monitor.getConfig()?.alertOnRefreshFailure === true;
  }

  /** Sends a lifecycle event (refresh, rotation, decommission) to the webhook; no cooldown. */
  publish(
    type: WebhookEvent["type"],
    credentialId: string,
    message: string,
    details: Record<string, unknown>,
  ): void {
    if (!this.#monitor.enabled) return;
    this.#monitor.publish({
      type,
      credentialId,
      timestamp: new Date(this.#now()),
      message,
      details,
    });
  }

  /**
   * Raises a `failure` alert, deduplicated by the cooldown; emitted as an `alert` event when raised.
   * @param cooldownMs replaces the configured cooldown (0: none, for alerts deduplicated otherwise)
   */
  raise(
    credentialId: string,
    message: string,
    details: Record<string, unknown>,
    cooldownMs?: number,
  ): void {
    if (!this.#monitor.enabled) return;
    const alert: WebhookEvent = {
      type: "failure",
      credentialId,
      timestamp: new Date(this.#now()),
      message,
      details,
    };
    if (this.#monitor.raise(alert, cooldownMs)) this.#events.emit("alert", alert);
  }
}
