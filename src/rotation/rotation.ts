/**
 * Rotation with a grace period: a credential due for replacement is reported once, its
 * replacement serves beside it, and once the grace period is over it is decommissioned. The
 * rotation state of every credential lives here, and leaves with the credential.
 * @module
 */
import type { Clock } from "../clock.js";
import { messageOf, RotationError, redactSecrets } from "../errors.js";
import type { ManagerEvents, TypedEmitter } from "../events.js";
import { cappedExponentialMs } from "../health/backoff.js";
import type { Notifier } from "../monitoring/notifier.js";
import type { PoolEntry } from "../pool/entry.js";
import type { CredentialPool } from "../pool/pool.js";
import { copyRotation } from "../stores/rotation-record.js";
import type { Logger, OAuthCredentialSet, RotationPolicy, RotationState } from "../types.js";
import { rfc3339 } from "./policy.js";

/** A failed onDecommission is retried after 1 min, 2 min, 4 min … up to hourly. */
const DECOMMISSION_RETRY_BASE_MS = 60_000;
const DECOMMISSION_RETRY_MAX_MS = 3_600_000;

/** What {@link Rotation} works with. */
export interface RotationDeps {
  pool: CredentialPool;
  now: Clock;
  logger: Logger;
  events: TypedEmitter<ManagerEvents>;
  notifier: Notifier;
  /** Checked already. */
  policy: RotationPolicy;
}

/**
 * What rotation keeps about a credential once something happened to it (marked, reported due,
 * restored from a store, a failed decommission). Most credentials never need one: their state is
 * "not marked, as old as its time in the pool", which costs nothing to keep.
 */
interface Track {
  state: RotationState;
  /** onRotationNeeded was called for the current rotation interval. */
  notified: boolean;
  decommissionFailures: number;
  /** After a failed onDecommission: not tried again before this time (epoch ms). */
  decommissionRetryAt: number | undefined;
  /** A decommission in progress (its onDecommission callback runs). */
  decommissioning: Promise<void> | undefined;
}

export class Rotation {
  readonly #deps: RotationDeps;
  /** By credential id, only for credentials rotation has something to remember about. */
  readonly #tracks = new Map<string, Track>();
  #policy: RotationPolicy;

  constructor(deps: RotationDeps) {
    this.#deps = deps;
    this.#policy = deps.policy;
    deps.pool.listen({
      removed: (entry) => {
        this.#tracks.delete(entry.id);
      },
    });
  }

  /** A copy of the policy in force. */
  get policy(): RotationPolicy {
    return { ...this.#policy };
  }

  /** @param policy checked already */
  setPolicy(policy: RotationPolicy): void {
    this.#policy = policy;
  }

  /** A copy of `id`'s rotation state, or undefined for an unknown credential. */
  getRotationState(id: string): RotationState | undefined {
    const track = this.#tracks.get(id);
    if (track) return copyRotation(track.state);
    const entry = this.#deps.pool.get(id);
    return entry && { createdAt: new Date(entry.addedAt), markedForRotation: false };
  }

  /**
   * `id`'s rotation state, read-only and not copied, for reports built on the spot; undefined
   * for a credential that is not marked and never was.
   */
  peek(id: string): Readonly<RotationState> | undefined {
    return this.#tracks.get(id)?.state;
  }

  /** Takes a stored rotation state into memory; whether it was reported due stays as it is. */
  restore(id: string, stored: RotationState): void {
    const track = this.#track(id);
    if (track) track.state = copyRotation(stored);
  }

  /** The soonest time a credential becomes due for rotation or decommission; undefined when none. */
  nextDueAt(): number | undefined {
    let soonest: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (soonest === undefined || t < soonest)) soonest = t;
    };
    if (this.#policy.enabled) {
      for (const entry of this.#deps.pool.entries.values()) consider(this.#dueAt(entry));
    }
    for (const track of this.#tracks.values()) consider(this.#decommissionAt(track));
    return soonest;
  }

  /** Ids whose age has reached the rotation interval and that are not marked yet; [] when disabled. */
  checkRotationNeeded(): string[] {
    if (!this.#policy.enabled) return [];
    const now = this.#deps.now();
    const due: string[] = [];
    for (const [id, entry] of this.#deps.pool.entries) {
      const state = this.#tracks.get(id)?.state;
      if (state?.markedForRotation) continue;
      const createdAt = state ? state.createdAt.getTime() : entry.addedAt;
      if (now - createdAt >= this.#policy.rotationInterval) due.push(id);
    }
    return due;
  }

  /** Calls `onRotationNeeded` once for each credential that has become due. */
  async notifyDue(now: number): Promise<void> {
    if (!this.#policy.enabled) return;
    for (const [id, entry] of this.#deps.pool.entries) {
      const due = this.#dueAt(entry);
      if (due === undefined || due > now) continue;
      const track = this.#track(id);
      if (!track) continue;
      track.notified = true;
      try {
        await this.#policy.onRotationNeeded?.(id);
      } catch (err) {
        const secrets = this.#deps.pool.get(id)?.secrets() ?? [];
        this.#deps.logger.warn(
          `oauthmanager: onRotationNeeded failed for credential ${id}: ${messageOf(redactSecrets(err, secrets))}`,
        );
      }
    }
  }

  /**
   * Adds `newCred` to the pool and marks `oldId` for decommission after the grace period.
   * @throws {RotationError} for an unknown or already marked credential
   * @throws {ConfigError} for an invalid or duplicate new credential
   */
  markForRotation(oldId: string, newCred: OAuthCredentialSet): void {
    const { pool, now, events, notifier } = this.#deps;
    const track = this.#track(oldId);
    if (!track) throw new RotationError(oldId, `credential ${oldId} not found`);
    if (track.state.markedForRotation) {
      throw new RotationError(oldId, `credential ${oldId} is already marked for rotation`);
    }
    pool.add(newCred);
    const at = now();
    const decommissionAt = new Date(at + this.#policy.gracePeriod);
    track.state = {
      ...track.state,
      markedForRotation: true,
      rotationStartedAt: new Date(at),
      replacementId: newCred.id,
      decommissionAt,
    };
    events.emit("rotation", {
      credentialId: oldId,
      replacementId: newCred.id,
      decommissionAt: new Date(decommissionAt.getTime()),
    });
    notifier.publish("rotation", oldId, "Credential marked for rotation", {
      replacement_id: newCred.id,
      decommission_at: decommissionAt.toISOString(),
    });
  }

  /**
   * Removes a marked credential once its grace period has passed, calling `onDecommission`
   * first. A failing `onDecommission` keeps the credential.
   * @throws {RotationError} when unknown, not marked, still in its grace period, or the callback failed
   */
  async completeRotation(id: string): Promise<void> {
    const track = this.#tracks.get(id);
    if (!track) {
      if (!this.#deps.pool.get(id)) throw new RotationError(id, `credential ${id} not found`);
      throw new RotationError(id, `credential ${id} is not marked for rotation`);
    }
    const { markedForRotation, decommissionAt } = track.state;
    if (!markedForRotation || decommissionAt === undefined) {
      throw new RotationError(id, `credential ${id} is not marked for rotation`);
    }
    if (this.#deps.now() < decommissionAt.getTime()) {
      throw new RotationError(
        id,
        `grace period for credential ${id} has not yet elapsed (decommission at ${rfc3339(decommissionAt.getTime())})`,
      );
    }
    if (track.decommissioning) return track.decommissioning;
    track.decommissioning = this.#decommission(id, track).finally(() => {
      track.decommissioning = undefined;
    });
    return track.decommissioning;
  }

  /** Completes every rotation whose grace period has passed, when `autoDecommission` is on. */
  async autoDecommissionExpired(): Promise<string[]> {
    if (!this.#policy.autoDecommission) return [];
    const now = this.#deps.now();
    const due = [...this.#tracks].filter(([, track]) => {
      const at = this.#decommissionAt(track);
      return at !== undefined && at <= now;
    });
    const done: string[] = [];
    for (const [id] of due) {
      try {
        await this.completeRotation(id);
        done.push(id);
      } catch (err) {
        this.#deps.logger.warn(
          `oauthmanager: could not decommission credential ${id}: ${messageOf(err)}`,
        );
      }
    }
    return done;
  }

  /** `id`'s track, made on first need; undefined for a credential not in the pool. */
  #track(id: string): Track | undefined {
    const existing = this.#tracks.get(id);
    if (existing) return existing;
    const entry = this.#deps.pool.get(id);
    if (!entry) return undefined;
    const track: Track = {
      state: { createdAt: new Date(entry.addedAt), markedForRotation: false },
      notified: false,
      decommissionFailures: 0,
      decommissionRetryAt: undefined,
      decommissioning: undefined,
    };
    this.#tracks.set(id, track);
    return track;
  }

  /** When `entry` becomes due for rotation, if it has not been reported yet. */
  #dueAt(entry: PoolEntry): number | undefined {
    const track = this.#tracks.get(entry.id);
    if (!this.#policy.enabled || track?.state.markedForRotation || track?.notified) {
      return undefined;
    }
    const createdAt = track ? track.state.createdAt.getTime() : entry.addedAt;
    return createdAt + this.#policy.rotationInterval;
  }

  /**
   * When the upkeep should decommission: at the end of the grace period, or after a failed
   * `onDecommission`, once its retry is due.
   */
  #decommissionAt(track: Track): number | undefined {
    const { state } = track;
    if (
      !this.#policy.autoDecommission ||
      !state.markedForRotation ||
      state.decommissionAt === undefined
    ) {
      return undefined;
    }
    return Math.max(state.decommissionAt.getTime(), track.decommissionRetryAt ?? 0);
  }

  /** `onDecommission` first (outside any state change); a failure keeps the credential. */
  async #decommission(id: string, track: Track): Promise<void> {
    const { pool, now, logger, events, notifier } = this.#deps;
    const callback = this.#policy.onDecommission;
    if (callback) {
      try {
        await callback(id);
      } catch (err) {
        // Tried again later, with growing spacing, rather than on every upkeep round.
        track.decommissionFailures++;
        track.decommissionRetryAt =
          now() +
          cappedExponentialMs(
            track.decommissionFailures,
            DECOMMISSION_RETRY_BASE_MS,
            DECOMMISSION_RETRY_MAX_MS,
          );
        const safe = redactSecrets(err, pool.get(id)?.secrets() ?? []);
        logger.warn(
          `oauthmanager: onDecommission failed for credential ${id}; it stays in the pool: ${messageOf(safe)}`,
        );
        throw new RotationError(id, `decommission callback failed for ${id}: ${messageOf(safe)}`, {
          cause: safe,
        });
      }
    }
    // Gone meanwhile (removed by hand, or by another decommission).
    if (this.#tracks.get(id) !== track) return;
    const replacementId = track.state.replacementId;
    pool.remove(id);
    events.emit("decommission", { credentialId: id });
    notifier.publish("decommission", id, "Credential decommissioned", {
      replacement_id: replacementId,
    });
  }
}
