/**
 * Rotation with a grace period: a credential due for replacement is reported once, its
 * replacement serves beside it, and once the grace period is over it is decommissioned.
 * @module
 */
import { messageOf, RotationError, redactSecrets } from "../errors.js";
import { cappedExponentialMs } from "../health/backoff.js";
import { defaultRotationPolicy, rfc3339, validateRotationPolicy } from "../rotation/policy.js";
import type { OAuthCredentialSet, RotationPolicy, RotationState } from "../types.js";
import { type ManagerContext, publish } from "./context.js";
import type { CredentialEntry } from "./credential-entry.js";

/** A failed onDecommission is retried after 1 min, 2 min, 4 min … up to hourly. */
const DECOMMISSION_RETRY_BASE_MS = 60_000;
const DECOMMISSION_RETRY_MAX_MS = 3_600_000;

/** What rotation needs from the manager: adding a credential, dropping one, storing one. */
export interface RotationHost {
  add(cred: OAuthCredentialSet): void;
  remove(entry: CredentialEntry): void;
  persist(entry: CredentialEntry): void;
}

export class Rotation {
  readonly #ctx: ManagerContext;
  readonly #host: RotationHost;
  #policy: RotationPolicy = defaultRotationPolicy();

  constructor(ctx: ManagerContext, host: RotationHost) {
    this.#ctx = ctx;
    this.#host = host;
  }

  get policy(): RotationPolicy {
    return { ...this.#policy };
  }

  /** @param policy undefined resets to `defaultRotationPolicy()` */
  setPolicy(policy: RotationPolicy | undefined): void {
    this.#policy = policy === undefined ? defaultRotationPolicy() : validateRotationPolicy(policy);
  }

  /** When `entry` becomes due for rotation, if it has not been reported yet. */
  dueAt(entry: CredentialEntry): number | undefined {
    const r = entry.rotation;
    if (!this.#policy.enabled || r.markedForRotation || r.rotationNotified) return undefined;
    return r.createdAt + this.#policy.rotationInterval;
  }

  /**
   * When the upkeep should decommission `entry`: at the end of its grace period, or after a
   * failed `onDecommission`, once its retry is due.
   */
  decommissionAt(entry: CredentialEntry): number | undefined {
    const r = entry.rotation;
    if (!this.#policy.autoDecommission || !r.markedForRotation || r.decommissionAt === undefined) {
      return undefined;
    }
    return Math.max(r.decommissionAt, entry.decommissionRetryAt ?? 0);
  }

  checkRotationNeeded(): string[] {
    if (!this.#policy.enabled) return [];
    const now = this.#ctx.now();
    const due: string[] = [];
    for (const [id, { rotation }] of this.#ctx.pool.entries) {
      if (
        !rotation.markedForRotation &&
        now - rotation.createdAt >= this.#policy.rotationInterval
      ) {
        due.push(id);
      }
    }
    return due;
  }

  /** Calls `onRotationNeeded` once for each credential that has become due. */
  async notifyDue(now: number): Promise<void> {
    for (const entry of this.#ctx.pool.entries.values()) {
      const due = this.dueAt(entry);
      if (due === undefined || due > now) continue;
      entry.rotation.rotationNotified = true;
      try {
        await this.#policy.onRotationNeeded?.(entry.id);
      } catch (err) {
        this.#ctx.logger.warn(
          `oauthmanager: onRotationNeeded failed for credential ${entry.id}: ${messageOf(redactSecrets(err, entry.secrets()))}`,
        );
      }
    }
  }

  async markForRotation(oldId: string, newCred: OAuthCredentialSet): Promise<void> {
    const ctx = this.#ctx;
    const entry = ctx.pool.get(oldId);
    if (!entry) throw new RotationError(oldId, `credential ${oldId} not found`);
    if (entry.rotation.markedForRotation) {
      throw new RotationError(oldId, `credential ${oldId} is already marked for rotation`);
    }
    this.#host.add(newCred);
    const now = ctx.now();
    const decommissionAt = now + this.#policy.gracePeriod;
    entry.rotation = {
      ...entry.rotation,
      markedForRotation: true,
      rotationStartedAt: now,
      replacementId: newCred.id,
      decommissionAt,
    };
    ctx.events.emit("rotation", {
      credentialId: oldId,
      replacementId: newCred.id,
      decommissionAt: new Date(decommissionAt),
    });
    this.#host.persist(entry);
    publish(ctx, "rotation", oldId, "Credential marked for rotation", {
      replacement_id: newCred.id,
      decommission_at: new Date(decommissionAt).toISOString(),
    });
  }

  async completeRotation(id: string): Promise<void> {
    const entry = this.#ctx.pool.get(id);
    if (!entry) throw new RotationError(id, `credential ${id} not found`);
    const { markedForRotation, decommissionAt } = entry.rotation;
    if (!markedForRotation || decommissionAt === undefined) {
      throw new RotationError(id, `credential ${id} is not marked for rotation`);
    }
    if (this.#ctx.now() < decommissionAt) {
      throw new RotationError(
        id,
        `grace period for credential ${id} has not yet elapsed (decommission at ${rfc3339(decommissionAt)})`,
      );
    }
    if (entry.decommissioning) return entry.decommissioning;
    entry.decommissioning = this.#decommission(entry).finally(() => {
      entry.decommissioning = undefined;
    });
    return entry.decommissioning;
  }

  async autoDecommissionExpired(): Promise<string[]> {
    if (!this.#policy.autoDecommission) return [];
    const now = this.#ctx.now();
    const due = [...this.#ctx.pool.entries.values()].filter((e) => {
      const at = this.decommissionAt(e);
      return at !== undefined && at <= now;
    });
    const done: string[] = [];
    for (const entry of due) {
      try {
        await this.completeRotation(entry.id);
        done.push(entry.id);
      } catch (err) {
        this.#ctx.logger.warn(
          `oauthmanager: could not decommission credential ${entry.id}: ${messageOf(err)}`,
        );
      }
    }
    return done;
  }

  getRotationState(id: string): RotationState | undefined {
    const rotation = this.#ctx.pool.get(id)?.rotation;
    if (!rotation) return undefined;
    const state: RotationState = {
      createdAt: new Date(rotation.createdAt),
      markedForRotation: rotation.markedForRotation,
    };
    if (rotation.rotationStartedAt !== undefined) {
      state.rotationStartedAt = new Date(rotation.rotationStartedAt);
    }
    if (rotation.replacementId !== undefined) state.replacementId = rotation.replacementId;
    if (rotation.decommissionAt !== undefined) {
      state.decommissionAt = new Date(rotation.decommissionAt);
    }
    return state;
  }

  /** `onDecommission` first (outside any state change); a failure keeps the credential. */
  async #decommission(entry: CredentialEntry): Promise<void> {
    const callback = this.#policy.onDecommission;
    if (callback) {
      try {
        await callback(entry.id);
      } catch (err) {
        // Tried again later, with growing spacing, rather than on every upkeep round.
        entry.decommissionFailures++;
        entry.decommissionRetryAt =
          this.#ctx.now() +
          cappedExponentialMs(
            entry.decommissionFailures,
            DECOMMISSION_RETRY_BASE_MS,
            DECOMMISSION_RETRY_MAX_MS,
          );
        const safe = redactSecrets(err, entry.secrets());
        this.#ctx.logger.warn(
          `oauthmanager: onDecommission failed for credential ${entry.id}; it stays in the pool: ${messageOf(safe)}`,
        );
        throw new RotationError(
          entry.id,
          `decommission callback failed for ${entry.id}: ${messageOf(safe)}`,
          { cause: safe },
        );
      }
    }
    if (entry.removed) return;
    this.#host.remove(entry);
    this.#ctx.events.emit("decommission", { credentialId: entry.id });
    publish(this.#ctx, "decommission", entry.id, "Credential decommissioned", {
      replacement_id: entry.rotation.replacementId,
    });
  }
}
