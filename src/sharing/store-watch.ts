/**
 * A manager's side of a store shared by several processes: what another process announces (a
 * refreshed or rotated token, an added or removed credential, a health mark) reaches this pool at
 * once, and after a possible loss of announcements everything is read again.
 * @module
 */
import type { Clock } from "../clock.js";
import type { BoundedStore } from "../persistence/bounded-store.js";
import type { StoreSync } from "../persistence/store-sync.js";
import { credentialFromStored } from "../persistence/stored-token.js";
import type { CredentialPool } from "../pool/pool.js";
import type { StoreChange } from "../stores/shared-state.js";
import type { SharedHealth } from "./shared-health.js";

/** What {@link StoreWatch} works with. */
export interface StoreWatchDeps {
  store: BoundedStore;
  sync: StoreSync;
  pool: CredentialPool;
  health: SharedHealth;
  now: Clock;
  /** Aborted by `close()`: no change is taken after it. */
  lifetime: AbortSignal;
}

export class StoreWatch {
  readonly #deps: StoreWatchDeps;
  readonly #stop: () => void;

  constructor(deps: StoreWatchDeps) {
    this.#deps = deps;
    this.#stop = deps.store.watch((change) => {
      if (!deps.lifetime.aborted) this.#take(change);
    });
  }

  /** Applies the health marks other processes set (a store that does not answer gives none). */
  loadHealth(): Promise<void> {
    return this.#deps.health.reload();
  }

  /** Stops taking changes. */
  close(): void {
    this.#stop();
    this.#deps.health.close();
  }

  #take(change: StoreChange): void {
    const { pool, sync, health } = this.#deps;
    switch (change.type) {
      case "saved":
        void this.#saved(change.key, change.version);
        return;
      case "deleted":
        // Removed elsewhere (by hand, or decommissioned after a rotation): here too.
        pool.remove(change.key);
        return;
      case "health":
        health.apply(change.key, change.mark);
        return;
      case "resync":
        void sync.resync();
        void health.reload();
        return;
    }
  }

  async #saved(id: string, version: number): Promise<void> {
    const { pool, sync, store, now } = this.#deps;
    const entry = pool.get(id);
    if (entry) {
      if (!(await sync.takeSaved(entry))) return;
      // A new token stored elsewhere ends a dead grant here (as a refresh here would).
      if (entry.health.needsReauth) entry.health.recordRefreshSuccess();
      pool.update(entry, now());
      return;
    }
    // Version 1 is a record just created: a credential added in another process. A later save
    // of a credential this process does not have is one its configuration left out: not added.
    if (version !== 1) return;
    const token = await store.load(id).catch(() => undefined);
    if (!token || pool.get(id) || this.#deps.lifetime.aborted) return;
    try {
      pool.add(credentialFromStored(id, token));
    } catch {
      // A record that makes no valid credential is left to the process that wrote it.
    }
  }
}
