/**
 * The manager's events and a tiny typed emitter. Listeners run synchronously; one that throws
 * is reported to the logger and never breaks the caller's request.
 * @module
 */
import type { RefreshError } from "./errors.js";
import type { Logger, WebhookEvent } from "./types.js";

/** Why a credential was penalised. */
export type FailureKind = "auth" | "rate_limit" | "server" | "network" | "timeout";

/** Payloads of the manager's events, by name. Nothing here carries a secret. */
export interface ManagerEvents {
  refresh: { credentialId: string; expiresAt: Date | undefined; refreshCount: number };
  refresh_failure: {
    credentialId: string;
    error: RefreshError;
    permanent: boolean;
    consecutiveFailures: number;
  };
  failure: {
    credentialId: string;
    error: unknown;
    kind: FailureKind;
    consecutiveFailures: number;
    backoffUntil: Date | undefined;
    /** Set when the cooldown is confined to this scope (`executeWithFailover`'s `scope`). */
    scope?: string;
  };
  rotation: { credentialId: string; replacementId: string; decommissionAt: Date };
  decommission: { credentialId: string };
  expiry_warning: { credentialId: string; expiresAt: Date };
  alert: WebhookEvent;
  /** A store call failed or timed out; the manager goes on from memory. */
  store_error: { credentialId: string | undefined; operation: string; error: unknown };
}

export type ManagerEventName = keyof ManagerEvents;
export type Listener<K extends ManagerEventName> = (payload: ManagerEvents[K]) => void;

/** A typed emitter. `on` returns a function that removes the listener. */
export class TypedEmitter<E extends object> {
  readonly #listeners = new Map<keyof E, Set<(payload: never) => void>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on<K extends keyof E>(event: K, listener: (payload: E[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => this.off(event, listener);
  }

  off<K extends keyof E>(event: K, listener: (payload: E[K]) => void): void {
    this.#listeners.get(event)?.delete(listener as (payload: never) => void);
  }

  hasListeners(event: keyof E): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        const returned: unknown = (listener as (payload: E[K]) => unknown)(payload);
        // An async listener's failure would otherwise be an unhandled rejection, which ends
        // the process under Node's default settings.
        if (isThenable(returned)) returned.then(undefined, (err) => this.#report(event, err));
      } catch (err) {
        this.#report(event, err);
      }
    }
  }

  #report(event: keyof E, err: unknown): void {
    this.#logger.error(`oauthmanager: a '${String(event)}' listener threw`, err);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
