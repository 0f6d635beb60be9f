/**
 * The request path, in the order every call takes it: select a credential → refresh its token if
 * due → run the operation → classify a failure → health and metrics → events, then fail over to
 * the next credential or return.
 *
 * Every request takes this path, so its common case (a fresh token, a success) is written for
 * speed: one synchronous step, one `await`, two clock reads, one result object. Refreshes,
 * failures and the retry after a 401 leave it for methods of their own.
 * @module
 */
import { setMaxListeners } from "node:events";
import { abortableDelay, raceAbort } from "../abort.js";
import type { UsageBudget } from "../budget/usage-budget.js";
import type { Clock } from "../clock.js";
import { describe, describeSetting } from "../describe.js";
import {
  CredentialsUnavailableError,
  FailoverExhaustedError,
  NoCredentialsError,
  type PooledKind,
  redactSecrets,
} from "../errors.js";
import type { FailureKind, ManagerEvents, TypedEmitter } from "../events.js";
import type { ErrorClassification } from "../health/classify.js";
import { CALL_OUTCOMES, type CallOutcome } from "../metrics/prometheus.js";
import type { PoolEntry } from "../pool/entry.js";
import type { CredentialPool } from "../pool/pool.js";
import type { Refresher } from "../refresh/refresher.js";
import { StickySessions } from "../selection/sticky-sessions.js";
import type {
  ExecuteOptions,
  ExecuteResult,
  Logger,
  OAuthCredentialSet,
  Operation,
  OperationResult,
  Usage,
  WhenAllUnavailable,
} from "../types.js";
import { checkWhenAllUnavailable, type ResolvedFailoverOptions } from "./options.js";

/**
 * Set on a call's options by a caller whose operation settles by itself once the call's signal
 * aborts: the gateway's, whose upstream request is aborted with its client's connection. The
 * common case then awaits the operation alone instead of racing it against the signal, which
 * takes a listener and a promise more per call. Not part of the public options: an operation
 * that ignored the signal would keep such a call pending.
 */
export const OPERATION_SETTLES_ON_ABORT: unique symbol = Symbol(
  "oauthmanager.operationSettlesOnAbort",
);

/** A call's options as the library's own callers may give them. */
export interface PoolCallOptions extends ExecuteOptions {
  [OPERATION_SETTLES_ON_ABORT]?: true;
}

const DEFAULT_MAX_ATTEMPTS = 3;
/** Waiting for a credential never polls faster than this, whatever the deadlines say. */
const MIN_WAIT_MS = 10;

/** What the loop works with. */
export interface FailoverDeps {
  provider: string;
  pool: CredentialPool;
  refresher: Refresher;
  classify: (err: unknown, now: number) => ErrorClassification;
  now: Clock;
  logger: Logger;
  events: TypedEmitter<ManagerEvents>;
  failover: ResolvedFailoverOptions;
  /** Aborted by close(): requests waiting for a credential stop waiting. */
  lifetime: AbortSignal;
  /** Usage budgets, when configured: counts the tokens of each success. */
  budget?: UsageBudget | undefined;
}

/** A call's scope, session key and panic mode, checked. */
interface CallOptions {
  readonly scope: string | undefined;
  readonly sessionKey: string | undefined;
  readonly mode: WhenAllUnavailable | undefined;
  /** The credential the session key was found stuck to, when the call took it. */
  stuck: PoolEntry | undefined;
}

/** Why an attempt ended without a result. */
type Verdict = Pick<ErrorClassification, "action" | "kind" | "retryAfterMs">;

/** The result of the retry after a 401, its success already recorded. */
class Retried<T> {
  constructor(readonly out: OperationResult<T>) {}
}

/** An attempt that ended without a result: fail over. */
class AttemptFailed {
  /**
   * @param error what to record, redacted
   * @param limited turned away by a rate limit or cooldown
   */
  constructor(
    readonly error: unknown,
    readonly limited: boolean,
  ) {}
}

const AUTH_FAILURE: Verdict = { action: "backoff", kind: "auth" };

export class FailoverLoop {
  readonly #deps: FailoverDeps;
  /**
   * What operations get when the caller passes no signal. Never aborted: close() waits for
   * requests in flight rather than cutting them off, and so never makes their credentials look
   * at fault. Shared by every call, so it may hold many listeners at once.
   */
  readonly #opSignal: AbortSignal;
  /** Calls by outcome, in the order of `CALL_OUTCOMES`. */
  readonly #calls = new Float64Array(CALL_OUTCOMES.length);
  /** Waited for before the first call (the store load); cleared once done. */
  beforeFirstUse: (() => Promise<void>) | undefined;
  /** What the pool holds, as errors name it. */
  #kind: PooledKind = "OAuth credential";
  /** Operations get the access token itself (an API key) instead of the credential. */
  #passToken = false;
  #inFlight = 0;
  #idle: (() => void) | undefined;
  /** Session key → the credential it used last; created with the first session key. */
  #sessions: StickySessions<PoolEntry> | undefined;

  constructor(deps: FailoverDeps) {
    this.#deps = deps;
    const signal = new AbortController().signal;
    setMaxListeners(0, signal);
    this.#opSignal = signal;
  }

  /** Operations get the key itself, and errors speak of API keys. */
  servesApiKeys(): void {
    this.#kind = "API key";
    this.#passToken = true;
  }

  /** Calls accepted and not yet settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  /** Calls so far, by outcome. */
  calls(): Record<CallOutcome, number> {
    const out = {} as Record<CallOutcome, number>;
    CALL_OUTCOMES.forEach((outcome, i) => {
      out[outcome] = this.#calls[i]!;
    });
    return out;
  }

  /**
   * See `OAuthKeyManager.executeWithFailover`. The common case (the store loaded, a credential
   * available, its token fresh) picks and starts the operation in this synchronous step and
   * finishes in `#firstAttempt` after one `await`. Everything else goes through `#run`.
   */
  run<T>(op: Operation<T>, opts: ExecuteOptions | undefined): Promise<ExecuteResult<T>> {
    if (typeof op !== "function") {
      return Promise.reject(new TypeError(`Expected \`op\` to be a function, got ${describe(op)}`));
    }
    const deps = this.#deps;
    let signal: AbortSignal | undefined;
    let call: CallOptions | undefined;
    /**
     * A call whose only option is a session key: while its key sticks to a credential that can
     * serve, it needs no per-call options at all, as a call without a key. Built only when the
     * call leaves that path.
     */
    let session: string | undefined;
    const size = deps.pool.size;
    let maxAttempts = size === 0 ? 1 : Math.min(size, DEFAULT_MAX_ATTEMPTS);
    if (opts !== undefined) {
      signal = opts.signal;
      try {
        if (opts.maxAttempts !== undefined) maxAttempts = checkedMaxAttempts(opts.maxAttempts);
        if (
          opts.sessionKey !== undefined &&
          opts.scope === undefined &&
          opts.whenAllUnavailable === undefined
        ) {
          session = checkedKey(opts.sessionKey, "sessionKey");
        } else {
          call = callOptions(opts);
        }
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.beforeFirstUse !== undefined || signal?.aborted) {
      return this.#run(op, signal, maxAttempts, undefined, 0, call ?? sessionCall(session));
    }
    let start: number;
    let entry: PoolEntry | undefined;
    try {
      start = deps.now();
      if (session !== undefined) {
        entry = this.#stuckTo(session, start, undefined, undefined);
        if (entry === undefined) {
          call = sessionCall(session);
          entry = this.#pickFor(start, undefined, call);
        }
      } else {
        entry =
          call === undefined
            ? deps.pool.pick(start, undefined)
            : this.#pickFor(start, undefined, call);
      }
      // A credential back from backoff on half-open serves as a trial, which the loop manages.
      if (entry === undefined || entry.halfOpen || deps.refresher.needsRefresh(entry, start)) {
        return this.#run(
          op,
          signal,
          maxAttempts,
          entry,
          start,
          call ?? sessionCall(session, entry),
        );
      }
    } catch (err) {
      // A clock or a strategy of the caller's that throws: the call rejects, as any async one.
      return Promise.reject(err);
    }
    // Counted from here, so close() waits for a call accepted before it.
    this.#inFlight++;
    entry.inFlight++;
    const cred = entry.view;
    let pending: Promise<OperationResult<T>>;
    try {
      // Raced against the signal unless the operation itself settles once it aborts.
      pending =
        (opts as PoolCallOptions | undefined)?.[OPERATION_SETTLES_ON_ABORT] === true
          ? this.#operateUnraced(op, cred, signal)
          : this.#operate(op, cred, signal);
      // An operation may return a plain value or a thenable, which `await` would have taken.
      if (!(pending instanceof Promise)) pending = Promise.resolve(pending);
    } catch (err) {
      // An operation that throws before returning its promise failed like one that rejects.
      pending = Promise.reject(err);
    }
    return this.#firstAttempt(pending, op, signal, maxAttempts, entry, cred, start, call, session);
  }

  /**
   * The common case's attempt, `pending` on `entry` since `start`, settled. An async function
   * rather than a `then`: it allocates no closures, and V8 sees that its result is a plain object,
   * never a thenable, so it settles the call's promise without looking up a `then` on it.
   */
  async #firstAttempt<T>(
    pending: Promise<OperationResult<T>>,
    op: Operation<T>,
    signal: AbortSignal | undefined,
    maxAttempts: number,
    entry: PoolEntry,
    cred: Readonly<OAuthCredentialSet>,
    start: number,
    call: CallOptions | undefined,
    session: string | undefined,
  ): Promise<ExecuteResult<T>> {
    let out: OperationResult<T>;
    try {
      out = await pending;
    } catch (err) {
      const options = call ?? sessionCall(session, entry);
      return this.#afterFirstFailure(op, signal, maxAttempts, entry, cred, start, err, options);
    }
    entry.inFlight--;
    // Settled first, so that the count stays right without a try/finally around recording the
    // success, which the common case is a little faster without. Whatever waits for idle resumes
    // only after this synchronous step, so it still sees the success recorded.
    this.#settled();
    this.#succeeded(entry, out?.usage, start, call);
    this.#calls[0]!++;
    // Built here, each in a return of its own, rather than by `#result`: that is what lets V8
    // see the object it settles with.
    const result = out?.result as T;
    const usage = out?.usage;
    if (usage) return { result, credentialId: entry.id, attempts: 1, usage };
    return { result, credentialId: entry.id, attempts: 1 };
  }

  /** The first attempt of the common case failed: judge it, then go on as `#run` would. */
  async #afterFirstFailure<T>(
    op: Operation<T>,
    signal: AbortSignal | undefined,
    maxAttempts: number,
    entry: PoolEntry,
    cred: Readonly<OAuthCredentialSet>,
    start: number,
    err: unknown,
    call: CallOptions | undefined,
  ): Promise<ExecuteResult<T>> {
    try {
      let outcome: Retried<T> | AttemptFailed;
      try {
        if (signal?.aborted) throw signal.reason;
        outcome = await this.#afterError(entry, cred, op, signal, err, start, call);
      } finally {
        entry.inFlight--;
      }
      if (outcome instanceof Retried) return this.#result(outcome.out, entry.id, 1);
      const tried = new Set([entry.id]);
      return await this.#attempts(op, signal, maxAttempts, 2, tried, [outcome], undefined, 0, call);
    } catch (finalErr) {
      this.#count(this.#outcomeOf(finalErr, signal));
      throw finalErr;
    } finally {
      this.#settled();
    }
  }

  /**
   * Every call that is not the common case: the store still loading, a signal already aborted,
   * no credential available, or a token due for refresh. `first` is the credential `run` already
   * picked at `firstStart`, so that picking again does not skip it.
   */
  async #run<T>(
    op: Operation<T>,
    signal: AbortSignal | undefined,
    maxAttempts: number,
    first: PoolEntry | undefined,
    firstStart: number,
    call: CallOptions | undefined,
  ): Promise<ExecuteResult<T>> {
    // Counted from here, so close() waits for a call accepted before it, store load included.
    this.#inFlight++;
    try {
      // A call whose signal is already aborted counts as aborted: it is the caller's choice.
      signal?.throwIfAborted();
      if (this.beforeFirstUse !== undefined) await this.beforeFirstUse();
      return await this.#attempts(
        op,
        signal,
        maxAttempts,
        1,
        undefined,
        undefined,
        first,
        firstStart,
        call,
      );
    } catch (err) {
      this.#count(this.#outcomeOf(err, signal));
      throw err;
    } finally {
      this.#settled();
    }
  }

  /**
   * Attempts `from` to `maxAttempts`, each on a credential not `tried` yet, until one succeeds.
   * Throws what the caller gets when none does.
   */
  async #attempts<T>(
    op: Operation<T>,
    signal: AbortSignal | undefined,
    maxAttempts: number,
    from: number,
    tried: Set<string> | undefined,
    failed: AttemptFailed[] | undefined,
    first: PoolEntry | undefined,
    firstStart: number,
    call: CallOptions | undefined,
  ): Promise<ExecuteResult<T>> {
    const deps = this.#deps;
    for (let attempt = from; attempt <= maxAttempts; attempt++) {
      const given = attempt === from && first !== undefined;
      let start = given ? firstStart : deps.now();
      let entry = given
        ? first
        : call === undefined
          ? deps.pool.pick(start, tried)
          : this.#pickFor(start, tried, call);
      if (entry === undefined) {
        // Nothing could be tried at all: panic mode decides. After failed attempts the
        // caller learns when to come back instead (FailoverExhaustedError.retryAfterMs).
        const mode = call?.mode ?? deps.failover.whenAllUnavailable;
        if (failed !== undefined || mode === "reject") break;
        entry = await this.#whenNoneAvailable(mode, call?.scope, signal);
        start = deps.now();
      } else if (entry.halfOpen) {
        deps.pool.startTrial(entry);
      }
      let cred = entry.view;
      let outcome: OperationResult<T> | Retried<T> | AttemptFailed;
      let operating = false;
      entry.inFlight++;
      try {
        if (deps.refresher.needsRefresh(entry, start)) {
          cred = await raceAbort(deps.refresher.refreshForUse(entry), signal);
          start = deps.now();
        }
        operating = true;
        outcome = await this.#operate(op, cred, signal);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        // A failed refresh is counted on the refresh track already: it only fails over.
        outcome = operating
          ? await this.#afterError(entry, cred, op, signal, err, start, call)
          : new AttemptFailed(err, false);
      } finally {
        entry.inFlight--;
        if (entry.onTrial) deps.pool.endTrial(entry, deps.now());
      }
      if (outcome instanceof AttemptFailed) {
        tried ??= new Set();
        tried.add(entry.id);
        failed ??= [];
        failed.push(outcome);
        continue;
      }
      if (outcome instanceof Retried) return this.#result(outcome.out, entry.id, attempt);
      this.#succeeded(entry, outcome?.usage, start, call);
      return this.#result(outcome, entry.id, attempt);
    }
    throw this.#noneLeft(failed, call?.scope);
  }

  /** One call fewer in flight; wakes `idle()` at the last. */
  #settled(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idle) {
      this.#idle();
      this.#idle = undefined;
    }
  }

  /** The session's credential while it can serve, else the next in selection order. */
  #pickFor(
    now: number,
    tried: ReadonlySet<string> | undefined,
    call: CallOptions,
  ): PoolEntry | undefined {
    const pool = this.#deps.pool;
    const { scope, sessionKey } = call;
    // A sticky hit leaves the round-robin cursor where it is: keys without a session, and the
    // next new session, get their turn as if the hit had not happened.
    const stuck =
      sessionKey === undefined ? undefined : this.#stuckTo(sessionKey, now, scope, tried);
    if (stuck !== undefined) {
      call.stuck = stuck;
      return stuck;
    }
    return scope === undefined ? pool.pick(now, tried) : pool.pickIn(now, tried, scope);
  }

  /**
   * The credential `sessionKey` sticks to, when it can serve now (under `scope`) and this call
   * has not tried it yet.
   */
  #stuckTo(
    sessionKey: string,
    now: number,
    scope: string | undefined,
    tried: ReadonlySet<string> | undefined,
  ): PoolEntry | undefined {
    const stuck = this.#sessions?.get(sessionKey, now);
    if (
      stuck === undefined ||
      stuck.removed ||
      tried?.has(stuck.id) === true ||
      !this.#deps.pool.canServe(stuck, now, scope)
    ) {
      return undefined;
    }
    return stuck;
  }

  #stick(sessionKey: string, entry: PoolEntry, now: number): void {
    const { failover } = this.#deps;
    this.#sessions ??= new StickySessions(failover.maxSessions, failover.sessionTtlMs);
    this.#sessions.set(sessionKey, entry, now);
  }

  /**
   * Every credential is out. `"wait"`: wait for the soonest one, no longer than `maxWaitMs`, the
   * caller's signal or close() allow; `"least-bad"`: the one whose backoff ends first.
   * @throws {CredentialsUnavailableError} when none comes back in time (or none ever will)
   */
  async #whenNoneAvailable(
    mode: "wait" | "least-bad",
    scope: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<PoolEntry> {
    const { pool, now, failover, lifetime } = this.#deps;
    if (mode === "least-bad") {
      const entry = pool.leastBad(now(), scope);
      if (entry === undefined) throw this.unavailableError(scope);
      return entry;
    }
    const stop = signal === undefined ? lifetime : AbortSignal.any([signal, lifetime]);
    const deadline = now() + failover.maxWaitMs;
    for (;;) {
      const at = now();
      const wait = pool.retryAfter(at, scope);
      if (wait === undefined || at >= deadline) throw this.unavailableError(scope);
      try {
        await abortableDelay(Math.min(Math.max(wait, MIN_WAIT_MS), deadline - at), stop);
      } catch (err) {
        // The caller's own abort wins over close()'s.
        if (signal?.aborted) throw signal.reason;
        throw err;
      }
      const t = now();
      const entry =
        scope === undefined ? pool.pick(t, undefined) : pool.pickIn(t, undefined, scope);
      if (entry !== undefined) {
        if (entry.halfOpen) pool.startTrial(entry);
        return entry;
      }
    }
  }

  /** What operations (and probes) get for `cred`: the credential, or the API key itself. */
  operand(cred: Readonly<OAuthCredentialSet>): Readonly<OAuthCredentialSet> {
    return (this.#passToken ? cred.accessToken : cred) as Readonly<OAuthCredentialSet>;
  }

  /**
   * Runs the operation with the caller's signal, or with ours that never aborts. A caller that
   * aborted while the call waited (for the store's first load, a refresh, a failover) gets its
   * reason, and the operation never starts: an HTTP request sent then would be answered to
   * nobody.
   */
  #operate<T>(
    op: Operation<T>,
    cred: Readonly<OAuthCredentialSet>,
    signal: AbortSignal | undefined,
  ): Promise<OperationResult<T>> {
    if (signal === undefined) return this.#operateUnraced(op, cred, undefined);
    if (signal.aborted) return Promise.reject(signal.reason);
    return raceAbort(this.#operateUnraced(op, cred, signal), signal);
  }

  /** Starts `op` on `cred` with the caller's signal, or ours; not raced against it. */
  #operateUnraced<T>(
    op: Operation<T>,
    cred: Readonly<OAuthCredentialSet>,
    signal: AbortSignal | undefined,
  ): Promise<OperationResult<T>> {
    return op(this.operand(cred), signal ?? this.#opSignal);
  }

  #result<T>(out: OperationResult<T>, credentialId: string, attempts: number): ExecuteResult<T> {
    this.#calls[attempts === 1 ? 0 : 1]!++;
    const result: ExecuteResult<T> = { result: out?.result as T, credentialId, attempts };
    if (out?.usage) result.usage = out.usage;
    return result;
  }

  /**
   * After an operation failed: a 401 refreshes and retries once on the same credential; the
   * request's own fault is rethrown as it is; anything else penalises the credential.
   */
  async #afterError<T>(
    entry: PoolEntry,
    used: Readonly<OAuthCredentialSet>,
    op: Operation<T>,
    signal: AbortSignal | undefined,
    err: unknown,
    start: number,
    call: CallOptions | undefined,
  ): Promise<Retried<T> | AttemptFailed> {
    const verdict = this.classify(err, this.#deps.now());
    if (verdict.action === "rethrow") throw err;
    if (verdict.action !== "refresh") return this.#fail(entry, used, verdict, err, start, call);
    return this.#retryAfterUnauthorized(entry, used, op, signal, err, start, call);
  }

  /**
   * A 401: refresh once (or take the token a concurrent caller already refreshed) and retry on
   * the same credential. Part of the same attempt. A token refreshed within the minimum interval
   * and still refused is not refreshed again, so a 401 can never start a refresh loop.
   */
  async #retryAfterUnauthorized<T>(
    entry: PoolEntry,
    used: Readonly<OAuthCredentialSet>,
    op: Operation<T>,
    signal: AbortSignal | undefined,
    err: unknown,
    start: number,
    call: CallOptions | undefined,
  ): Promise<Retried<T> | AttemptFailed> {
    const { refresher, now } = this.#deps;
    let fresh = entry.view;
    if (fresh.accessToken === used.accessToken) {
      // An external credential's file is re-read at once: a local read, it cannot loop upstream.
      const external = entry.external;
      if (
        !refresher.canRefresh(entry) ||
        (!external && refresher.recentlyRefreshed(entry, now()))
      ) {
        return this.#fail(entry, used, AUTH_FAILURE, err, start, call);
      }
      try {
        fresh = await raceAbort(refresher.refresh(entry), signal);
      } catch (refreshErr) {
        if (signal?.aborted) throw signal.reason;
        return new AttemptFailed(refreshErr, false);
      }
      // The file still holds the refused token: nothing to retry with.
      if (external && fresh.accessToken === used.accessToken) {
        return this.#fail(entry, used, AUTH_FAILURE, err, start, call);
      }
    }
    const retryStart = now();
    try {
      const out = await this.#operate(op, fresh, signal);
      this.#succeeded(entry, out?.usage, retryStart, call);
      return new Retried(out);
    } catch (retryErr) {
      if (signal?.aborted) throw signal.reason;
      const verdict = this.classify(retryErr, now());
      if (verdict.action === "rethrow") throw retryErr;
      const why = verdict.action === "refresh" ? AUTH_FAILURE : verdict;
      return this.#fail(entry, fresh, why, retryErr, retryStart, call);
    }
  }

  /**
   * What to throw when no credential can be picked now (under `scope`): the pool is empty, or
   * all rest.
   */
  unavailableError(scope?: string): NoCredentialsError | CredentialsUnavailableError {
    const { pool, provider, now } = this.#deps;
    if (pool.size === 0) return new NoCredentialsError(provider, this.#kind);
    const retryAfterMs = pool.retryAfter(now(), scope);
    return new CredentialsUnavailableError(provider, pool.size, retryAfterMs, this.#kind);
  }

  /** What to throw when no attempt is left or no credential could be picked. */
  #noneLeft(failed: AttemptFailed[] | undefined, scope: string | undefined): Error {
    if (failed === undefined || this.#deps.pool.size === 0) return this.unavailableError(scope);
    const { pool, provider, now } = this.#deps;
    const kind = this.#kind;
    const at = now();
    // After rate limits the caller wants to know when to come back, as a 429 would tell it.
    const limited = failed.some((f) => f.limited);
    const retryAfterMs = limited
      ? pool.hasAvailable(at, scope)
        ? 0
        : pool.retryAfter(at, scope)
      : undefined;
    const errors = failed.map((f) => f.error);
    return new FailoverExhaustedError(provider, errors, { retryAfterMs, kind });
  }

  #outcomeOf(err: unknown, signal: AbortSignal | undefined): CallOutcome {
    if (signal?.aborted && err === signal.reason) return "aborted";
    if (err instanceof FailoverExhaustedError) return "exhausted";
    if (err instanceof CredentialsUnavailableError || err instanceof NoCredentialsError) {
      return "unavailable";
    }
    return "caller_error";
  }

  #count(outcome: CallOutcome): void {
    this.#calls[CALL_OUTCOMES.indexOf(outcome)]!++;
  }

  /** Penalises `entry` for a failed request and returns the error to record, redacted. */
  #fail(
    entry: PoolEntry,
    used: Readonly<OAuthCredentialSet>,
    verdict: Verdict,
    err: unknown,
    start: number,
    call: CallOptions | undefined,
  ): AttemptFailed {
    const now = this.#deps.now();
    entry.metrics.record(0, now - start, false, now, verdict.kind as FailureKind);
    // The token the operation used may already have been replaced by a refresh.
    const safe = redactSecrets(err, [...entry.secrets(), used.accessToken, used.refreshToken]);
    this.penalise(entry, verdict, safe, now, start, call?.scope);
    return new AttemptFailed(
      safe,
      verdict.action === "cooldown" || verdict.retryAfterMs !== undefined,
    );
  }

  /**
   * Puts `entry` in backoff for a failure and emits `failure`. `startedAt` is when the failed
   * request started: failures of requests that were in flight together count as one step. A
   * rate limit or quota error seen under a `scope` cools the credential in that scope only.
   */
  penalise(
    entry: PoolEntry,
    verdict: Verdict,
    err: unknown,
    now: number,
    startedAt: number = now,
    scope?: string,
  ): void {
    if (entry.removed) return;
    const { pool, events } = this.#deps;
    const scoped = scope !== undefined && isScopedFailure(verdict);
    const until = scoped
      ? pool.coolInScope(entry, scope, now, verdict.retryAfterMs, startedAt)
      : // A Retry-After is honoured whatever came with it (a 429, or a 503 that sent one).
        entry.health.recordFailure(now, verdict.retryAfterMs, startedAt);
    if (!scoped) pool.update(entry, now);
    if (events.hasListeners("failure")) {
      const event: ManagerEvents["failure"] = {
        credentialId: entry.id,
        error: err,
        kind: verdict.kind as FailureKind,
        consecutiveFailures: entry.health.failureCount,
        backoffUntil: until > now ? new Date(until) : undefined,
      };
      if (scoped) event.scope = scope;
      events.emit("failure", event);
    }
  }

  #succeeded(
    entry: PoolEntry,
    usage: Usage | undefined,
    start: number,
    call: CallOptions | undefined,
  ): void {
    const { now: clock, pool } = this.#deps;
    if (call !== undefined) this.#succeededFor(call, entry, start);
    const now = clock();
    if (usage === undefined) entry.metrics.record(0, now - start, true, now);
    else {
      const prompt = usage.promptTokens;
      const completion = usage.completionTokens;
      entry.metrics.record((prompt || 0) + (completion || 0), now - start, true, now);
      entry.metrics.recordTokens(prompt, completion);
      this.#deps.budget?.record(entry, prompt, completion, usage.model, now);
    }
    const health = entry.health;
    if (health.failureCount === 0 && health.backoffUntil === 0) {
      health.lastSuccess = now;
      return;
    }
    // A request that began before the latest failure says nothing about it: its success must not
    // cancel a cooldown (a 429's Retry-After) that a later request earned.
    if (health.lastFailure === undefined || start > health.lastFailure) {
      health.recordSuccess(now);
      pool.update(entry, now);
    } else {
      health.lastSuccess = now;
    }
  }

  /** A call with a scope or session key succeeded on `entry`. */
  #succeededFor(call: CallOptions, entry: PoolEntry, start: number): void {
    if (call.scope !== undefined) this.#deps.pool.succeededInScope(entry, call.scope, start);
    // A sticky hit was already counted as a use of its key when it was looked up.
    if (call.sessionKey !== undefined && call.stuck !== entry) {
      this.#stick(call.sessionKey, entry, start);
    }
  }

  /** Asks the classifier; one that throws makes the error transient. */
  classify(err: unknown, now: number): ErrorClassification {
    try {
      return this.#deps.classify(err, now);
    } catch (classifyErr) {
      this.#deps.logger.error(
        "oauthmanager: classifyError threw; treating the error as transient",
        classifyErr,
      );
      return { action: "backoff", kind: "network" };
    }
  }
}

/** A rate limit or quota: about what was asked for under a scope, not about the credential. */
function isScopedFailure(verdict: Verdict): boolean {
  return verdict.action === "cooldown" || verdict.kind === "rate_limit";
}

/** Scopes and session keys are the caller's names: non-empty strings of reasonable length. */
const MAX_KEY_LENGTH = 256;

function checkedKey(value: string, name: string): string {
  if (typeof value !== "string" || value === "" || value.length > MAX_KEY_LENGTH) {
    throw new TypeError(
      `Expected \`${name}\` to be a non-empty string of at most ${MAX_KEY_LENGTH} characters, got ${describeSetting(value)}`,
    );
  }
  return value;
}

/**
 * The options of a call that gave only a session key (already checked), found stuck to `stuck`
 * or not; undefined without a key.
 */
function sessionCall(sessionKey: string, stuck?: PoolEntry): CallOptions;
function sessionCall(sessionKey: string | undefined, stuck?: PoolEntry): CallOptions | undefined;
function sessionCall(sessionKey: string | undefined, stuck?: PoolEntry): CallOptions | undefined {
  if (sessionKey === undefined) return undefined;
  return { scope: undefined, sessionKey, mode: undefined, stuck };
}

/** The call's scope, session key and panic mode, checked; undefined when it gave none. */
function callOptions(opts: ExecuteOptions): CallOptions | undefined {
  const { scope, sessionKey, whenAllUnavailable } = opts;
  if (scope === undefined && sessionKey === undefined && whenAllUnavailable === undefined) {
    return undefined;
  }
  return {
    scope: scope === undefined ? undefined : checkedKey(scope, "scope"),
    sessionKey: sessionKey === undefined ? undefined : checkedKey(sessionKey, "sessionKey"),
    mode:
      whenAllUnavailable === undefined ? undefined : checkWhenAllUnavailable(whenAllUnavailable),
    stuck: undefined,
  };
}

function checkedMaxAttempts(requested: number): number {
  if (!Number.isInteger(requested) || requested < 1) {
    throw new TypeError(
      `Expected \`maxAttempts\` to be an integer >= 1, got ${describeSetting(requested)}`,
    );
  }
  return requested;
}
