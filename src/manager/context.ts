/**
 * What the manager's parts share: the pool, the clock, the logger, the event stream and the
 * monitor. Each part (refresh, store sync, rotation, upkeep, reporting) gets this one object.
 * @module
 */
import type { Clock } from "../clock.js";
import type { ManagerEvents, TypedEmitter } from "../events.js";
import type { Monitor } from "../monitoring/monitor.js";
import type { Logger, WebhookEvent } from "../types.js";
import type { CredentialPool } from "./pool.js";

export interface ManagerContext {
  readonly provider: string;
  readonly now: Clock;
  readonly logger: Logger;
  readonly events: TypedEmitter<ManagerEvents>;
  readonly pool: CredentialPool;
  readonly monitor: Monitor;
  /** Aborted by `close()`: refreshes in flight stop. */
  readonly lifetime: AbortSignal;
  readonly isClosed: () => boolean;
}

/** Sends a lifecycle event (refresh, rotation, decommission) to the webhook; no cooldown. */
export function publish(
  ctx: ManagerContext,
  type: WebhookEvent["type"],
  credentialId: string,
  message: string,
  details: Record<string, unknown>,
): void {
  if (!ctx.monitor.enabled) return;
  ctx.monitor.publish({ type, credentialId, timestamp: new Date(ctx.now()), message, details });
}

/** Raises a `failure` alert, deduplicated by the cooldown; emitted as an `alert` event when raised. */
export function raise(
  ctx: ManagerContext,
  credentialId: string,
  message: string,
  details: Record<string, unknown>,
): void {
  if (!ctx.monitor.enabled) return;
  const alert: WebhookEvent = {
    type: "failure",
    credentialId,
    timestamp: new Date(ctx.now()),
    message,
    details,
  };
  if (ctx.monitor.raise(alert)) ctx.events.emit("alert", alert);
}
