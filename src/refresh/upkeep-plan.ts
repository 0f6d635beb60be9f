/**
 * What the background upkeep does, and when: proactive refreshes spread before the strategy's
 * buffer, rotation notices, decommissions after grace periods, and alert checks.
 * @module
 */
import type { Clock } from "../clock.js";
import type { PoolEntry } from "../pool/entry.js";
import type { CredentialPool } from "../pool/pool.js";
import type { Refresher } from "./refresher.js";
import type { UpkeepHost } from "./upkeep.js";

/** Proactive refreshes start up to this long before the buffer, spread per credential. */
const MAX_REFRESH_LEAD_MS = 60_000;
/** Proactive refreshes running at once, so a pool that expires together does not stampede. */
const REFRESH_CONCURRENCY = 4;
/** After a failed proactive refresh, wait this long per consecutive failure before the next. */
const RETRY_STEP_MS = 10_000;
const RETRY_MAX_MS = 300_000;

/** The rotation work the upkeep drives. */
export interface RotationUpkeep {
  /** The soonest time a rotation notice or a decommission is due. */
  nextDueAt(): number | undefined;
  notifyDue(now: number): Promise<void>;
  autoDecommissionExpired(): Promise<unknown>;
}

/** A check run on its own schedule (the alert evaluation). */
export interface ScheduledCheck {
  /** When it is next due, or undefined while it is off. */
  dueAt(): number | undefined;
  /** Runs it when due at `now`. */
  runDue(now: number): void;
}

/** What {@link UpkeepPlan} works with. */
export interface UpkeepPlanDeps {
  pool: CredentialPool;
  now: Clock;
  refresher: Refresher;
  rotation: RotationUpkeep;
  alerts: ScheduledCheck;
  /** Aborted by `close()`: no refresh starts after it. */
  lifetime: AbortSignal;
}

export class UpkeepPlan implements UpkeepHost {
  readonly #deps: UpkeepPlanDeps;
  /** After a failed proactive refresh: not before this time again. */
  readonly #retryAt = new Map<PoolEntry, number>();

  constructor(deps: UpkeepPlanDeps) {
    this.#deps = deps;
    deps.pool.listen({ removed: (entry) => this.#retryAt.delete(entry) });
  }

  nextDueAt(now: number): number | undefined {
    const { pool, rotation, alerts } = this.#deps;
    let soonest: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (soonest === undefined || t < soonest)) soonest = t;
    };
    for (const entry of pool.entries.values()) consider(this.#refreshAt(entry, now));
    consider(rotation.nextDueAt());
    consider(alerts.dueAt());
    return soonest;
  }

  async runDue(now: number): Promise<void> {
    const { pool, rotation, alerts } = this.#deps;
    const due: PoolEntry[] = [];
    for (const entry of pool.entries.values()) {
      const at = this.#refreshAt(entry, now);
      if (at !== undefined && at <= now) due.push(entry);
    }
    await runLimited(due, REFRESH_CONCURRENCY, (entry) => this.#refresh(entry));
    await rotation.notifyDue(now);
    await rotation.autoDecommissionExpired();
    alerts.runDue(now);
  }

  /**
   * When to refresh `entry` ahead of need: shortly before the strategy's buffer, earlier by a
   * lead spread per credential so a pool does not refresh in one instant; never sooner than the
   * minimum interval after the last refresh, nor while a failed one waits to be retried.
   */
  #refreshAt(entry: PoolEntry, now: number): number | undefined {
    const refresher = this.#deps.refresher;
    if (!refresher.canRefresh(entry) || entry.health.needsReauth || refresher.isRefreshing(entry)) {
      return undefined;
    }
    if (!entry.view.refreshToken && !entry.external) return undefined;
    const expiresAt = entry.expiresAtMs;
    if (expiresAt === undefined && entry.view.accessToken !== "") return undefined;
    let at = now;
    if (expiresAt !== undefined) {
      const buffer = refresher.bufferFor(entry, now);
      at = expiresAt - buffer - refreshLead(entry.id, Math.min(MAX_REFRESH_LEAD_MS, buffer));
    }
    const notBefore = refresher.notBefore(entry);
    if (notBefore !== undefined) at = Math.max(at, notBefore);
    const retryAt = this.#retryAt.get(entry);
    if (retryAt !== undefined) at = Math.max(at, retryAt);
    return at;
  }

  async #refresh(entry: PoolEntry): Promise<void> {
    if (this.#deps.lifetime.aborted || entry.removed) return;
    try {
      await this.#deps.refresher.refresh(entry);
      this.#retryAt.delete(entry);
    } catch {
      // Already counted and reported by the refresh path; space out the next try.
      const failures = Math.max(1, entry.health.refreshFailCount);
      let retryAt = this.#deps.now() + Math.min(RETRY_STEP_MS * failures, RETRY_MAX_MS);
      if (entry.health.backoffUntil > retryAt) retryAt = entry.health.backoffUntil;
      if (!entry.removed) this.#retryAt.set(entry, retryAt);
    }
  }
}

/**
 * How much earlier than the buffer the upkeep refreshes credential `id`: a fixed fraction of
 * `maxLead` derived from the id (FNV-1a), so a pool spreads out and the same credential stays put.
 */
function refreshLead(id: string, maxLead: number): number {
  let hash = 2166136261;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return ((hash >>> 0) / 2 ** 32) * maxLead;
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
