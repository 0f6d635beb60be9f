/**
 * The request path, in the order every call takes it: select a credential → refresh its token if
 * due → run the operation → classify a failure → health and metrics → events, then fail over to
 * the next credential or return.
 *
 * Every request takes this path, so its common case (a fresh token, a success) is written for
 * speed: one async frame, two clock reads, one result object. Refreshes, failures and the retry
 * after a 401 leave the loop for methods of their own.
 * @module
 */
import { setMaxListeners } from "node:events";
import { raceAbort } from "../abort.js";
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
import type {
  ExecuteOptions,
  ExecuteResult,
  Logger,
  OAuthCredentialSet,
  Operation,
  OperationResult,
  Usage,
} from "../types.js";

const DEFAULT_MAX_ATTEMPTS = 3;

/** What the loop works with. */
export interface FailoverDeps {
  provider: string;
  pool: CredentialPool;
  refresher: Refresher;
  classify: (err: unknown, now: number) => ErrorClassification;
  now: Clock;
  logger: Logger;
  events: TypedEmitter<ManagerEvents>;
  /** Usage budgets, when configured: counts the tokens of each success. */
  budget?: UsageBudget | undefined;
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

  /** See `OAuthKeyManager.executeWithFailover`. */
  async run<T>(op: Operation<T>, opts: ExecuteOptions | undefined): Promise<ExecuteResult<T>> {
    if (typeof op !== "function") {
      throw new TypeError(`Expected \`op\` to be a function, got ${describe(op)}`);
    }
    const deps = this.#deps;
    let signal: AbortSignal | undefined;
    const size = deps.pool.size;
    let maxAttempts = size === 0 ? 1 : Math.min(size, DEFAULT_MAX_ATTEMPTS);
    if (opts !== undefined) {
      signal = opts.signal;
      if (opts.maxAttempts !== undefined) maxAttempts = checkedMaxAttempts(opts.maxAttempts);
    }
    // Counted from here, so close() waits for a call accepted before it, store load included.
    this.#inFlight++;
    try {
      // A call whose signal is already aborted counts as aborted: it is the caller's choice.
      signal?.throwIfAborted();
      if (this.beforeFirstUse !== undefined) await this.beforeFirstUse();
      let failed: AttemptFailed[] | undefined;
      let tried: Set<string> | undefined;
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        let start = deps.now();
        const entry = deps.pool.pick(start, tried);
        if (entry === undefined) break;
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
            ? await this.#afterError(entry, cred, op, signal, err, start)
            : new AttemptFailed(err, false);
        } finally {
          entry.inFlight--;
        }
        if (outcome instanceof AttemptFailed) {
          tried ??= new Set();
          tried.add(entry.id);
          failed ??= [];
          failed.push(outcome);
          continue;
        }
        if (outcome instanceof Retried) return this.#result(outcome.out, entry.id, attempt);
        this.#succeeded(entry, outcome?.usage, start);
        return this.#result(outcome, entry.id, attempt);
      }
      throw this.#noneLeft(failed);
    } catch (err) {
      this.#count(this.#outcomeOf(err, signal));
      throw err;
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0 && this.#idle) {
        this.#idle();
        this.#idle = undefined;
      }
    }
  }

  /** Runs the operation with the caller's signal, or with ours that never aborts. */
  #operate<T>(
    op: Operation<T>,
    cred: Readonly<OAuthCredentialSet>,
    signal: AbortSignal | undefined,
  ): Promise<OperationResult<T>> {
    const arg = (this.#passToken ? cred.accessToken : cred) as Readonly<OAuthCredentialSet>;
    return signal === undefined ? op(arg, this.#opSignal) : raceAbort(op(arg, signal), signal);
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
  ): Promise<Retried<T> | AttemptFailed> {
    const verdict = this.classify(err, this.#deps.now());
    if (verdict.action === "rethrow") throw err;
    if (verdict.action !== "refresh") return this.#fail(entry, used, verdict, err, start);
    return this.#retryAfterUnauthorized(entry, used, op, signal, err, start);
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
        return this.#fail(entry, used, AUTH_FAILURE, err, start);
      }
      try {
        fresh = await raceAbort(refresher.refresh(entry), signal);
      } catch (refreshErr) {
        if (signal?.aborted) throw signal.reason;
        return new AttemptFailed(refreshErr, false);
      }
      // The file still holds the refused token: nothing to retry with.
      if (external && fresh.accessToken === used.accessToken) {
        return this.#fail(entry, used, AUTH_FAILURE, err, start);
      }
    }
    const retryStart = now();
    try {
      const out = await this.#operate(op, fresh, signal);
      this.#succeeded(entry, out?.usage, retryStart);
      return new Retried(out);
    } catch (retryErr) {
      if (signal?.aborted) throw signal.reason;
      const verdict = this.classify(retryErr, now());
      if (verdict.action === "rethrow") throw retryErr;
      const why = verdict.action === "refresh" ? AUTH_FAILURE : verdict;
      return this.#fail(entry, fresh, why, retryErr, retryStart);
    }
  }

  /** What to throw when no credential can be picked now: the pool is empty, or all rest. */
  unavailableError(): NoCredentialsError | CredentialsUnavailableError {
    const { pool, provider, now } = this.#deps;
    if (pool.size === 0) return new NoCredentialsError(provider, this.#kind);
    return new CredentialsUnavailableError(provider, pool.size, pool.retryAfter(now()), this.#kind);
  }

  /** What to throw when no attempt is left or no credential could be picked. */
  #noneLeft(failed: AttemptFailed[] | undefined): Error {
    if (failed === undefined || this.#deps.pool.size === 0) return this.unavailableError();
    const { pool, provider, now } = this.#deps;
    const kind = this.#kind;
    const at = now();
    // After rate limits the caller wants to know when to come back, as a 429 would tell it.
    const limited = failed.some((f) => f.limited);
    const retryAfterMs = limited ? (pool.hasAvailable(at) ? 0 : pool.retryAfter(at)) : undefined;
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
  ): AttemptFailed {
    const now = this.#deps.now();
    entry.metrics.record(0, now - start, false, now, verdict.kind as FailureKind);
    // The token the operation used may already have been replaced by a refresh.
    const safe = redactSecrets(err, [...entry.secrets(), used.accessToken, used.refreshToken]);
    this.penalise(entry, verdict, safe, now, start);
    return new AttemptFailed(
      safe,
      verdict.action === "cooldown" || verdict.retryAfterMs !== undefined,
    );
  }

  /**
   * Puts `entry` in backoff for a failure and emits `failure`. `startedAt` is when the failed
   * request started: failures of requests that were in flight together count as one step.
   */
  penalise(
    entry: PoolEntry,
    verdict: Verdict,
    err: unknown,
    now: number,
    startedAt: number = now,
  ): void {
    if (entry.removed) return;
    const { pool, events } = this.#deps;
    // A Retry-After is honoured whatever came with it (a 429, or a 503 that sent one).
    const until = entry.health.recordFailure(now, verdict.retryAfterMs, startedAt);
    pool.update(entry, now);
    if (events.hasListeners("failure")) {
      events.emit("failure", {
        credentialId: entry.id,
        error: err,
        kind: verdict.kind as FailureKind,
        consecutiveFailures: entry.health.failureCount,
        backoffUntil: until > now ? new Date(until) : undefined,
      });
    }
  }

  #succeeded(entry: PoolEntry, usage: Usage | undefined, start: number): void {
    const { now: clock, pool } = this.#deps;
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

function checkedMaxAttempts(requested: number): number {
  if (!Number.isInteger(requested) || requested < 1) {
    throw new TypeError(
      `Expected \`maxAttempts\` to be an integer >= 1, got ${describeSetting(requested)}`,
    );
  }
  return requested;
}
