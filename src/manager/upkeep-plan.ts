/**
 * What the background upkeep does, and when: proactive refreshes spread before the strategy's
 * buffer, rotation notices, decommissions after grace periods, and alert checks.
 * @module
 */
import type { UpkeepHost } from "../refresh/upkeep.js";
import type { ManagerContext } from "./context.js";
import type { CredentialEntry } from "./credential-entry.js";
import type { Refresher } from "./refresher.js";
import type { Rotation } from "./rotation.js";

/** Proactive refreshes start up to this long before the buffer, spread per credential. */
const MAX_REFRESH_LEAD_MS = 60_000;
/** Proactive refreshes running at once, so a pool that expires together does not stampede. */
const REFRESH_CONCURRENCY = 4;
/** After a failed proactive refresh, wait this long per consecutive failure before the next. */
const RETRY_STEP_MS = 10_000;
const RETRY_MAX_MS = 300_000;
/** How often alerts are evaluated while monitoring is on. */
const ALERT_CHECK_INTERVAL_MS = 60_000;

export class UpkeepPlan implements UpkeepHost {
  readonly #ctx: ManagerContext;
  readonly #refresher: Refresher;
  readonly #rotation: Rotation;
  readonly #checkAlerts: () => void;
  #nextAlertCheckAt = 0;

  constructor(
    ctx: ManagerContext,
    refresher: Refresher,
    rotation: Rotation,
    checkAlerts: () => void,
  ) {
    this.#ctx = ctx;
    this.#refresher = refresher;
    this.#rotation = rotation;
    this.#checkAlerts = checkAlerts;
  }

  /** Called by every alert check, scheduled or not, so the next one is a full interval away. */
  alertsChecked(now: number): void {
    this.#nextAlertCheckAt = now + ALERT_CHECK_INTERVAL_MS;
  }

  nextDueAt(now: number): number | undefined {
    let soonest: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (soonest === undefined || t < soonest)) soonest = t;
    };
    for (const entry of this.#ctx.pool.entries.values()) {
      consider(this.#refreshAt(entry, now));
      consider(this.#rotation.dueAt(entry));
      consider(this.#rotation.decommissionAt(entry));
    }
    if (this.#ctx.monitor.enabled) consider(this.#nextAlertCheckAt);
    return soonest;
  }

  async runDue(now: number): Promise<void> {
    const due: CredentialEntry[] = [];
    for (const entry of this.#ctx.pool.entries.values()) {
      const at = this.#refreshAt(entry, now);
      if (at !== undefined && at <= now) due.push(entry);
    }
    await runLimited(due, REFRESH_CONCURRENCY, (entry) => this.#refresh(entry));
    await this.#rotation.notifyDue(now);
    await this.#rotation.autoDecommissionExpired();
    if (this.#ctx.monitor.enabled && now >= this.#nextAlertCheckAt) this.#checkAlerts();
  }

  /**
   * When to refresh `entry` ahead of need: shortly before the strategy's buffer, earlier by a
   * lead spread per credential so a pool does not refresh in one instant; never sooner than the
   * minimum interval after the last refresh, nor while a failed one waits to be retried.
   */
  #refreshAt(entry: CredentialEntry, now: number): number | undefined {
    if (!this.#refresher.configured || entry.health.needsReauth || entry.refreshing)
      return undefined;
    if (!entry.view.refreshToken) return undefined;
    const expiresAt = entry.expiresAtMs;
    if (expiresAt === undefined && entry.view.accessToken !== "") return undefined;
    let at = now;
    if (expiresAt !== undefined) {
      const buffer = this.#refresher.bufferFor(entry, now);
      at = expiresAt - buffer - entry.refreshLead(Math.min(MAX_REFRESH_LEAD_MS, buffer));
    }
    const notBefore = this.#refresher.notBefore(entry);
    if (notBefore !== undefined) at = Math.max(at, notBefore);
    if (entry.upkeepRetryAt !== undefined) at = Math.max(at, entry.upkeepRetryAt);
    return at;
  }

  async #refresh(entry: CredentialEntry): Promise<void> {
    if (this.#ctx.isClosed() || entry.removed) return;
    try {
      await this.#refresher.refresh(entry);
      entry.upkeepRetryAt = undefined;
    } catch {
      // Already counted and reported by the refresh path; space out the next try.
      const failures = Math.max(1, entry.health.refreshFailCount);
      let retryAt = this.#ctx.now() + Math.min(RETRY_STEP_MS * failures, RETRY_MAX_MS);
      if (entry.health.backoffUntil > retryAt) retryAt = entry.health.backoffUntil;
      entry.upkeepRetryAt = retryAt;
    }
  }
}

/** Runs `task` over `items` with at most `limit` at a time; never rejects. */
async function runLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item).catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
