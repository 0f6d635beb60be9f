/**
 * The alert evaluation: run on demand (`checkAlerts()`) and by the upkeep once a minute while
 * monitoring is on. Either way the next scheduled run is a full interval after the last one.
 * @module
 */
import type { Clock } from "../clock.js";
import type { ManagerEvents, TypedEmitter } from "../events.js";
import type { Monitor } from "../monitoring/monitor.js";
import type { CredentialPool } from "../pool/pool.js";
import type { ScheduledCheck } from "../refresh/upkeep-plan.js";
import type { WebhookEvent } from "../types.js";
import { alertSubjects } from "./reporting.js";

/** How often alerts are evaluated while monitoring is on. */
const ALERT_CHECK_INTERVAL_MS = 60_000;

/** What {@link AlertCheck} works with. */
export interface AlertCheckDeps {
  pool: CredentialPool;
  monitor: Monitor;
  now: Clock;
  events: TypedEmitter<ManagerEvents>;
  /** Whether tokens can be refreshed at all (a refresh function is configured). */
  canRefresh: boolean;
  /** More rules, evaluated with the built-in ones; their alerts go the same way. */
  rules?: readonly ((now: number) => WebhookEvent[])[];
}

export class AlertCheck implements ScheduledCheck {
  readonly #deps: AlertCheckDeps;
  #nextAt = 0;

  constructor(deps: AlertCheckDeps) {
    this.#deps = deps;
  }

  dueAt(): number | undefined {
    return this.#deps.monitor.enabled ? this.#nextAt : undefined;
  }

  runDue(now: number): void {
    if (this.#deps.monitor.enabled && now >= this.#nextAt) this.check();
  }

  /**
   * Evaluates the alert conditions now and emits each raised alert (and `expiry_warning`).
   * @returns the alerts raised, without those suppressed by the cooldown
   */
  check(): WebhookEvent[] {
    const { pool, monitor, now, events, canRefresh } = this.#deps;
    this.#nextAt = now() + ALERT_CHECK_INTERVAL_MS;
    const raised = monitor.check(alertSubjects(pool, canRefresh));
    const at = now();
    for (const rule of this.#deps.rules ?? []) {
      for (const alert of rule(at)) if (monitor.raise(alert)) raised.push(alert);
    }
    for (const alert of raised) {
      if (alert.type === "expiry_warning") {
        const expiresAt = pool.get(alert.credentialId)?.view.expiresAt;
        if (expiresAt) {
          events.emit("expiry_warning", {
            credentialId: alert.credentialId,
            expiresAt: new Date(expiresAt.getTime()),
          });
        }
      }
      events.emit("alert", alert);
    }
    return raised;
  }
}
