/**
 * Health shared by the processes of a fleet through their store: a cooldown (a 429's Retry-After,
 * a backoff) or a dead grant one process meets is stored with its end and announced, and every
 * other process holds the credential out of selection for as long. Only the state that decides
 * selection is shared; failure counts and metrics stay per process.
 *
 * The only contact with the health code: this module listens to the manager's `failure` and
 * `refresh_failure` events, and applies a mark through {@link applyHealthMark}.
 * @module
 */
import type { Clock } from "../clock.js";
import type { ManagerEvents, TypedEmitter } from "../events.js";
import type { BoundedStore } from "../persistence/bounded-store.js";
import type { PoolEntry } from "../pool/entry.js";
import type { CredentialPool } from "../pool/pool.js";
import type { HealthMark } from "../stores/shared-state.js";

/**
 * How long a shared "needs re-authentication" mark holds. A new token saved for the credential
 * ends it before; the bound keeps one mistaken mark from sidelining a credential for good.
 */
export const REAUTH_MARK_MS = 3_600_000;

/**
 * A cooldown is announced again only when it ends this much later than the one announced
 * before: requests failing together on one rate limit must not each write to the store.
 */
const ANNOUNCE_STEP_MS = 1_000;

/** What {@link SharedHealth} works with. */
export interface SharedHealthDeps {
  store: BoundedStore;
  pool: CredentialPool;
  now: Clock;
  events: TypedEmitter<ManagerEvents>;
  /** Aborted by `close()`: nothing is announced after it. */
  lifetime: AbortSignal;
}

/** What was announced last per credential. */
interface Announced {
  /** End of the last cooldown announced (epoch ms, this process's clock). */
  cooldownUntil: number;
  /** The same per scope, for the scopes cooled most recently. */
  scoped: Map<string, number>;
  needsReauth: boolean;
}

/** Scopes remembered per credential for deduplication; beyond it the oldest is forgotten. */
const MAX_SCOPES_REMEMBERED = 64;

export class SharedHealth {
  readonly #deps: SharedHealthDeps;
  readonly #announced = new WeakMap<PoolEntry, Announced>();
  readonly #stop: (() => void)[];

  constructor(deps: SharedHealthDeps) {
    this.#deps = deps;
    const { events, pool } = deps;
    this.#stop = [
      events.on("failure", ({ credentialId, backoffUntil, scope }) => {
        const entry = pool.get(credentialId);
        if (entry && backoffUntil) this.#announceCooldown(entry, backoffUntil.getTime(), scope);
      }),
      events.on("refresh_failure", ({ credentialId, permanent }) => {
        const entry = pool.get(credentialId);
        if (!entry) return;
        if (permanent) this.#announceReauth(entry);
        else if (entry.health.backoffUntil > deps.now()) {
          this.#announceCooldown(entry, entry.health.backoffUntil, undefined);
        }
      }),
      events.on("refresh", ({ credentialId }) => {
        // A live grant again: a later dead one is announced anew.
        const entry = pool.get(credentialId);
        const announced = entry && this.#announced.get(entry);
        if (announced) announced.needsReauth = false;
      }),
    ];
  }

  /** Applies a mark another process announced. */
  apply(id: string, mark: HealthMark): void {
    const entry = this.#deps.pool.get(id);
    if (!entry || this.#deps.lifetime.aborted) return;
    const { pool } = this.#deps;
    const now = this.#deps.now();
    const announced = this.#record(entry);
    // Recorded as announced already: this process must not announce it back.
    if (mark.scope !== undefined) {
      if (mark.kind !== "cooldown") return;
      // Counted as no new step of this process's own backoff in the scope (it started before
      // any step), only as the cooldown it is.
      pool.coolInScope(entry, mark.scope, now, mark.remainingMs, Number.NEGATIVE_INFINITY);
      remember(announced.scoped, mark.scope, now + mark.remainingMs);
      return;
    }
    if (!applyHealthMark(entry, mark, now)) return;
    if (mark.kind === "needs_reauth") announced.needsReauth = true;
    else announced.cooldownUntil = Math.max(announced.cooldownUntil, now + mark.remainingMs);
    pool.update(entry, now);
  }

  /** Reads every mark still holding and applies it (after announcements may have been lost). */
  async reload(): Promise<void> {
    let marks: Map<string, HealthMark[]>;
    try {
      marks = await this.#deps.store.loadHealthMarks();
    } catch {
      // The store is down: the next resync, once it is back, reads them.
      return;
    }
    for (const [id, list] of marks) for (const mark of list) this.apply(id, mark);
  }

  /** Stops announcing. */
  close(): void {
    for (const stop of this.#stop) stop();
  }

  #announceCooldown(entry: PoolEntry, until: number, scope: string | undefined): void {
    const announced = this.#record(entry);
    const before =
      scope === undefined ? announced.cooldownUntil : (announced.scoped.get(scope) ?? 0);
    if (until < before + ANNOUNCE_STEP_MS) return;
    const remainingMs = Math.ceil(until - this.#deps.now());
    if (remainingMs < 1) return;
    if (scope === undefined) announced.cooldownUntil = until;
    else remember(announced.scoped, scope, until);
    this.#send(
      entry,
      scope === undefined
        ? { kind: "cooldown", remainingMs }
        : { kind: "cooldown", remainingMs, scope },
    );
  }

  #announceReauth(entry: PoolEntry): void {
    const announced = this.#record(entry);
    if (announced.needsReauth) return;
    announced.needsReauth = true;
    this.#send(entry, { kind: "needs_reauth", remainingMs: REAUTH_MARK_MS });
  }

  #send(entry: PoolEntry, mark: HealthMark): void {
    if (this.#deps.lifetime.aborted) return;
    // Nothing waits for it and nothing queues: with the store down the mark holds here only,
    // and the other processes find out by themselves.
    this.#deps.store.saveHealthMark(entry.id, mark).catch(() => {
      const announced = this.#announced.get(entry);
      if (announced && mark.kind === "needs_reauth") announced.needsReauth = false;
    });
  }

  #record(entry: PoolEntry): Announced {
    let announced = this.#announced.get(entry);
    if (!announced) {
      announced = { cooldownUntil: 0, scoped: new Map(), needsReauth: false };
      this.#announced.set(entry, announced);
    }
    return announced;
  }
}

/** Notes `until` for `scope`, keeping the most recent scopes only. */
function remember(scoped: Map<string, number>, scope: string, until: number): void {
  const before = scoped.get(scope) ?? 0;
  // Deleted first, so the scope moves to the most recent end of the map.
  scoped.delete(scope);
  scoped.set(scope, Math.max(until, before));
  if (scoped.size > MAX_SCOPES_REMEMBERED) {
    const oldest = scoped.keys().next().value;
    if (oldest !== undefined) scoped.delete(oldest);
  }
}

/**
 * Puts a mark for the whole credential on `entry`'s health: a cooldown holds it out of selection
 * until its end (never shortened), a re-authentication mark until it gets a new token. A scoped
 * mark goes to the pool's cooldowns in that scope instead; it changes nothing here.
 * @returns whether the mark changed anything
 */
export function applyHealthMark(entry: PoolEntry, mark: HealthMark, now: number): boolean {
  if (mark.scope !== undefined) return false;
  const health = entry.health;
  if (mark.kind === "needs_reauth") {
    if (health.needsReauth) return false;
    health.needsReauth = true;
    return true;
  }
  const until = now + mark.remainingMs;
  if (until <= health.backoffUntil) return false;
  health.backoffUntil = until;
  // A request of this process that started before the mark came must not end it by succeeding.
  health.lastFailure = now;
  return true;
}
