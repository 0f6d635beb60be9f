/**
 * An optional capability of a token store that several processes use at once: it tells each of
 * them what the others changed, and keeps health marks (a cooldown, a dead grant) that all of them
 * honour. A store only one process uses (memory, file) does not have it, and need not.
 * @module
 */
import type { TokenStore } from "./types.js";

/** What a health mark holds a credential out of selection for. */
export type HealthMarkKind = "cooldown" | "needs_reauth";

/** A health state one process set and every process sharing the store honours. */
export interface HealthMark {
  kind: HealthMarkKind;
  /**
   * How long the mark still holds, from when it was read or announced. A duration rather than a
   * time of day: the clocks of a fleet's hosts differ.
   */
  remainingMs: number;
  /**
   * The part of the credential the mark is about (a model, an endpoint); absent for the whole
   * credential. A process that knows no scopes ignores a scoped mark.
   */
  scope?: string;
}

/** A change another process made to the store. */
export type StoreChange =
  | { type: "saved"; key: string; version: number }
  | { type: "deleted"; key: string }
  | { type: "health"; key: string; mark: HealthMark }
  /** Changes may have been missed (the feed was down, or is checked now and then): re-read. */
  | { type: "resync" };

/** The sharing capability; see {@link sharesState}. */
export interface SharedStateStore {
  /**
   * Calls `listener` with every change other processes make to keys starting with `prefix`, and
   * with `resync` whenever some may have been missed. Never throws into the listener's caller.
   * @returns a function that stops the calls
   */
  watch(prefix: string, listener: (change: StoreChange) => void): () => void;
  /** Stores `mark` for `key` until it runs out, and announces it. */
  saveHealthMark(key: string, mark: HealthMark): Promise<void>;
  /** The marks still holding for every key starting with `prefix`. */
  loadHealthMarks(prefix: string): Promise<Map<string, HealthMark[]>>;
}

/** Whether `store` shares state between processes (has every method of {@link SharedStateStore}). */
export function sharesState(store: TokenStore): store is TokenStore & SharedStateStore {
  const s = store as Partial<SharedStateStore>;
  return (
    typeof s.watch === "function" &&
    typeof s.saveHealthMark === "function" &&
    typeof s.loadHealthMarks === "function"
  );
}
