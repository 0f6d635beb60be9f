/**
 * The pool: credentials by id, the ring of those selectable now, and the queue of those in
 * backoff. Selection costs O(1) amortised for round-robin and never touches credentials in
 * backoff, however many there are. Parts that keep state per credential listen for additions
 * and removals, so nothing outlives the credential it was about.
 * @module
 */
import { type Clock, systemClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import type { HealthPolicy } from "../health/credential-health.js";
import { createMetricsTable } from "../metrics/credential-metrics.js";
import { type Candidate, LinkedRing } from "../selection/ring.js";
import type { Selector } from "../selection/selector.js";
import type { OAuthCredentialSet } from "../types.js";
import { BackoffQueue } from "./backoff-queue.js";
import { PoolEntry } from "./entry.js";
import { ScopedCooldowns, type ScopeState } from "./scoped-cooldowns.js";
import { validateCredentials } from "./validate.js";

/** How the pool treats credentials coming back from backoff, and scopes. */
export interface PoolBehaviour {
  /** A credential back from backoff serves one trial request before the rest. @default false */
  halfOpen: boolean;
  /** Scopes whose cooldowns are kept at most. @default 64 */
  maxScopes: number;
}

const DEFAULT_BEHAVIOUR: PoolBehaviour = { halfOpen: false, maxScopes: 64 };

/** Told about every credential that enters or leaves the pool. */
export interface PoolListener {
  added?(entry: PoolEntry): void;
  /** Called once the entry is out of selection; requests in flight on it may still finish. */
  removed?(entry: PoolEntry): void;
}

export class CredentialPool {
  readonly entries = new Map<string, PoolEntry>();
  readonly #ring = new LinkedRing<PoolEntry>();
  readonly #backoff = new BackoffQueue<PoolEntry>(
    (entry, deadline) =>
      !entry.removed &&
      !entry.linked &&
      !entry.health.needsReauth &&
      entry.health.backoffUntil === deadline,
  );
  readonly #listeners: PoolListener[] = [];
  readonly #selector: Selector;
  readonly #policy: HealthPolicy;
  readonly #inPool = (id: string): boolean => this.entries.has(id);
  /** Every credential's counters and histogram, packed together. */
  readonly #metrics = createMetricsTable();
  #nextOrder = 0;

  readonly #now: Clock;
  readonly #halfOpen: boolean;
  readonly #scopes: ScopedCooldowns;
  /** Takes credentials whose backoff ended instead of the ring (background probes). */
  #onDue: ((entry: PoolEntry) => void) | undefined;

  /** @param now stamps when each credential joins the pool @default Date.now */
  constructor(
    selector: Selector,
    policy: HealthPolicy,
    now: Clock = systemClock,
    behaviour: PoolBehaviour = DEFAULT_BEHAVIOUR,
  ) {
    this.#selector = selector;
    this.#policy = policy;
    this.#now = now;
    this.#halfOpen = behaviour.halfOpen;
    this.#scopes = new ScopedCooldowns(behaviour.maxScopes);
  }

  /** Registers a listener for additions and removals from now on. */
  listen(listener: PoolListener): void {
    this.#listeners.push(listener);
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): PoolEntry | undefined {
    return this.entries.get(id);
  }

  /**
   * Adds credentials, all or none, selectable at once.
   * @param path how the list is named in messages
   * @throws {ConfigError} naming every invalid credential or id already present
   */
  addAll(creds: readonly OAuthCredentialSet[], path = "credentials"): void {
    const issues = validateCredentials(creds, this.#inPool, path);
    if (issues.length > 0) throw new ConfigError(issues);
    for (const cred of creds) this.#add(cred);
  }

  /**
   * Adds one credential, selectable at once.
   * @throws {ConfigError} for an invalid credential or an id already present
   */
  add(cred: OAuthCredentialSet): PoolEntry {
    const issues = validateCredentials([cred], this.#inPool, "credential");
    if (issues.length > 0) throw new ConfigError(issues);
    return this.#add(cred);
  }

  /** Takes `id` out of selection and tells the listeners; undefined when it was not present. */
  remove(id: string): PoolEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    entry.removed = true;
    entry.metrics.release();
    this.#unlink(entry);
    if (this.#scopes.size > 0) this.#scopes.forget(entry);
    this.entries.delete(id);
    this.#selector.forget?.(id);
    this.#compactIfStale();
    for (const listener of this.#listeners) listener.removed?.(entry);
    return entry;
  }

  /**
   * The next credential to use, skipping the ids in `exclude` (already tried by this request).
   * Returns undefined when none is selectable now.
   */
  pick(now: number, exclude?: ReadonlySet<string>): PoolEntry | undefined {
    this.#recover(now);
    if (this.#ring.size === 0) return undefined;
    return this.#selector.select(this.#ring, exclude ? excluding(exclude) : acceptAll);
  }

  /**
   * {@link pick} under `scope`: credentials cooling down in that scope are skipped, at no cost
   * per credential skipped. A scope without cooldowns picks exactly as {@link pick}.
   */
  pickIn(
    now: number,
    exclude: ReadonlySet<string> | undefined,
    scope: string,
  ): PoolEntry | undefined {
    if (this.#scopes.size === 0) return this.pick(now, exclude);
    const state = this.#scopeAt(scope, now);
    if (state === undefined) return this.pick(now, exclude);
    if (state.ring.size === 0) return undefined;
    return this.#selector.select(state.ring, exclude ? excluding(exclude) : acceptAll)?.entry;
  }

  /** Whether `entry` can serve a request under `scope` (any scope when undefined) now. */
  canServe(entry: PoolEntry, now: number, scope: string | undefined): boolean {
    this.#recover(now);
    if (!entry.linked) return false;
    if (scope === undefined) return true;
    const state = this.#scopeAt(scope, now);
    return state === undefined || !state.isCooling(entry);
  }

  /** Whether any credential can be picked now (under `scope`, when given). */
  hasAvailable(now: number, scope?: string): boolean {
    this.#recover(now);
    const state = scope === undefined ? undefined : this.#scopeAt(scope, now);
    return (state ? state.ring.size : this.#ring.size) > 0;
  }

  /**
   * Milliseconds until the soonest credential in backoff comes back; undefined when none will.
   * Under a scope, the sooner of the pool's and the scope's next deadline: a credential may wait
   * for both, so this is the earliest it is worth trying again.
   */
  retryAfter(now: number, scope?: string): number | undefined {
    let deadline = this.#backoff.peekDeadline();
    const scoped = scope === undefined ? undefined : this.#scopes.get(scope)?.nextDeadline();
    if (scoped !== undefined && (deadline === undefined || scoped < deadline)) deadline = scoped;
    return deadline === undefined ? undefined : Math.max(0, deadline - now);
  }

  /** The credential whose backoff (or cooldown in `scope`) ends first: the least bad to try. */
  leastBad(now: number, scope?: string): PoolEntry | undefined {
    this.#recover(now);
    const pooled = this.#backoff.peek();
    const state = scope === undefined ? undefined : this.#scopeAt(scope, now);
    const scoped = state?.soonest();
    if (scoped === undefined) return pooled;
    if (pooled === undefined) return scoped;
    const scopedUntil = state?.records.get(scoped)?.until ?? 0;
    return scopedUntil < pooled.health.backoffUntil ? scoped : pooled;
  }

  /**
   * A 429 or quota error under `scope`: `entry` cools down there only, for `cooldownMs` (a
   * Retry-After) or the next backoff step.
   * @returns the cooldown's deadline
   */
  coolInScope(
    entry: PoolEntry,
    scope: string,
    now: number,
    cooldownMs: number | undefined,
    startedAt: number,
  ): number {
    if (entry.removed) return 0;
    const state = this.#scopes.touch(scope, this.#ring);
    state.recover(now);
    const until = state.cool(entry, now, cooldownMs, startedAt, this.#policy);
    this.#scopes.dropIfEmpty(scope);
    return until;
  }

  /** A request under `scope` succeeded on `entry`: its cooldown record there goes. */
  succeededInScope(entry: PoolEntry, scope: string, startedAt: number): void {
    if (this.#scopes.size === 0) return;
    const state = this.#scopes.get(scope);
    if (state?.succeeded(entry, startedAt)) this.#scopes.dropIfEmpty(scope);
  }

  /** Scope → credential id → end of its cooldown there (epoch ms), most recently cooled first. */
  scopedCooldowns(now: number, maxScopes: number): Map<string, Record<string, number>> {
    const out = new Map<string, Record<string, number>>();
    for (const [scope, state] of this.#scopes.entries()) {
      if (out.size >= maxScopes) break;
      state.recover(now);
      if (state.cooling > 0) out.set(scope, state.snapshot(now));
    }
    return out;
  }

  /**
   * A request takes `entry`, back from backoff, as a trial: the others go elsewhere until it
   * settles ({@link endTrial}).
   */
  startTrial(entry: PoolEntry): void {
    entry.halfOpen = false;
    entry.onTrial = true;
    this.#unlink(entry);
  }

  /**
   * The trial request on `entry` settled. A success or a failure has already put it where it
   * belongs; a request that ended otherwise (its own fault, an abort) leaves it half-open.
   */
  endTrial(entry: PoolEntry, now: number): void {
    entry.onTrial = false;
    if (entry.removed || entry.health.needsReauth || entry.health.backoffUntil > now) return;
    if (entry.health.failureCount > 0) entry.halfOpen = true;
    this.#link(entry);
  }

  /**
   * From now on, credentials whose backoff ends go to `handler` (a background probe) instead of
   * back into selection; undefined restores the default.
   */
  onBackoffEnd(handler: ((entry: PoolEntry) => void) | undefined): void {
    this.#onDue = handler;
  }

  /** Takes back the credentials whose backoff has ended (selection does it on every pick too). */
  recoverDue(now: number): void {
    this.#recover(now);
  }

  /** Re-evaluates where `entry` belongs after its health changed. */
  update(entry: PoolEntry, now: number): void {
    if (entry.removed) return;
    if (entry.health.needsReauth) {
      this.#unlink(entry);
    } else if (entry.health.backoffUntil > now) {
      if (entry.linked) this.#unlink(entry);
      this.#backoff.push(entry, entry.health.backoffUntil);
      this.#compactIfStale();
    } else {
      if (entry.health.failureCount === 0) entry.halfOpen = false;
      // A trial settles through endTrial; a probe's credential is placed by the probe.
      if (!entry.onTrial) this.#link(entry);
    }
  }

  /** Entries waiting in the backoff queue, stale ones included (for diagnostics and tests). */
  get backoffQueueSize(): number {
    return this.#backoff.size;
  }

  #add(cred: OAuthCredentialSet): PoolEntry {
    const entry = new PoolEntry(cred, this.#nextOrder++, this.#policy, this.#metrics, this.#now());
    this.entries.set(entry.id, entry);
    this.#link(entry);
    for (const listener of this.#listeners) listener.added?.(entry);
    return entry;
  }

  /**
   * A deadline pushed again leaves its old heap item behind; once those outnumber the live ones
   * they are dropped, so a pool whose credentials keep failing does not grow without bound.
   */
  #compactIfStale(): void {
    if (this.#backoff.size > 2 * this.entries.size + 64) this.#backoff.compact();
  }

  #recover(now: number): void {
    if (this.#backoff.hasDue(now)) this.#backoff.popDue(now, this.#relink);
  }

  readonly #relink = (entry: PoolEntry): void => {
    if (entry.health.needsReauth || entry.onTrial) return;
    if (this.#onDue !== undefined) {
      this.#onDue(entry);
      return;
    }
    if (this.#halfOpen) entry.halfOpen = true;
    this.#link(entry);
  };

  #link(entry: PoolEntry): void {
    if (entry.linked) return;
    this.#ring.link(entry);
    if (this.#scopes.size > 0) this.#scopes.link(entry);
  }

  #unlink(entry: PoolEntry): void {
    if (!entry.linked) return;
    this.#ring.unlink(entry);
    if (this.#scopes.size > 0) this.#scopes.unlink(entry);
  }

  #scopeAt(scope: string, now: number): ScopeState | undefined {
    this.#recover(now);
    const state = this.#scopes.get(scope);
    state?.recover(now);
    return state;
  }
}

const acceptAll = (): boolean => true;

/** A filter refusing `ids`. Built apart from `pick`, so a pick without one allocates nothing. */
function excluding(ids: ReadonlySet<string>): (c: Candidate) => boolean {
  return (c) => !ids.has(c.id);
}
