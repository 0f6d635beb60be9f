/**
 * Background probes: once `start()` was called and a `probe` function given, a credential whose
 * backoff ends is checked by that function before it serves again, instead of by a user's
 * request. One probe per credential at a time, a bounded number at once; timers unref'd; every
 * probe aborted on close().
 * @module
 */
import { raceAbort } from "../abort.js";
import { type Clock, scheduleAt } from "../clock.js";
import { redactSecrets } from "../errors.js";
import type { PoolEntry } from "../pool/entry.js";
import type { CredentialPool } from "../pool/pool.js";
import type { Refresher } from "../refresh/refresher.js";
import type { FailoverLoop } from "./failover.js";
import type { ProbeFunc } from "./options.js";

/** Without traffic, backoff ends are looked for at least this often (new ones may be sooner). */
const SWEEP_MS = 1_000;

export interface ProberDeps {
  pool: CredentialPool;
  loop: FailoverLoop;
  refresher: Refresher;
  now: Clock;
  probe: ProbeFunc;
  concurrency: number;
  timeoutMs: number;
  /** Aborted by close(): probes in flight stop. */
  lifetime: AbortSignal;
}

export class Prober {
  readonly #deps: ProberDeps;
  /** Credentials being probed: never two probes on one. */
  readonly #running = new Set<PoolEntry>();
  /** Credentials whose backoff ended while every probe slot was taken, oldest first. */
  readonly #pending = new Set<PoolEntry>();
  readonly #settled = new Set<Promise<void>>();
  #cancelTimer: (() => void) | undefined;
  #started = false;

  constructor(deps: ProberDeps) {
    this.#deps = deps;
  }

  /** Probes in flight now (for tests and diagnostics). */
  get running(): number {
    return this.#running.size;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#deps.pool.onBackoffEnd(this.#due);
    this.#sweep();
  }

  /** Stops probing; credentials waiting for a probe go back into selection. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#cancelTimer?.();
    const { pool, now } = this.#deps;
    pool.onBackoffEnd(undefined);
    const at = now();
    for (const entry of this.#pending) pool.update(entry, at);
    this.#pending.clear();
    await Promise.allSettled(this.#settled);
  }

  readonly #due = (entry: PoolEntry): void => {
    if (entry.removed || this.#running.has(entry)) return;
    if (this.#running.size < this.#deps.concurrency) this.#launch(entry);
    else this.#pending.add(entry);
  };

  #launch(entry: PoolEntry): void {
    this.#running.add(entry);
    const done = this.#run(entry).finally(() => {
      this.#running.delete(entry);
      this.#settled.delete(done);
      this.#next();
    });
    this.#settled.add(done);
  }

  #next(): void {
    if (!this.#started) return;
    for (const entry of this.#pending) {
      if (this.#running.size >= this.#deps.concurrency) return;
      this.#pending.delete(entry);
      if (!entry.removed) this.#launch(entry);
    }
  }

  async #run(entry: PoolEntry): Promise<void> {
    const { pool, loop, refresher, now, probe, timeoutMs, lifetime } = this.#deps;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`probe timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    const signal = AbortSignal.any([controller.signal, lifetime]);
    const startedAt = now();
    try {
      let cred = entry.view;
      if (refresher.needsRefresh(entry, startedAt)) {
        cred = await raceAbort(refresher.refreshForUse(entry), signal);
      }
      await raceAbort(probe(loop.operand(cred), signal), signal);
      if (entry.removed) return;
      const at = now();
      entry.health.recordSuccess(at);
      pool.update(entry, at);
    } catch (err) {
      if (lifetime.aborted || entry.removed) return;
      const at = now();
      const verdict = loop.classify(err, at);
      loop.penalise(entry, verdict, redactSecrets(err, entry.secrets()), at, startedAt);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Takes back due credentials (handing them to probes) even when no request comes. */
  #sweep(): void {
    if (!this.#started) return;
    const { pool, now } = this.#deps;
    const at = now();
    pool.recoverDue(at);
    const wait = Math.min(Math.max(pool.retryAfter(at) ?? SWEEP_MS, 1), SWEEP_MS);
    this.#cancelTimer = scheduleAt(now, at + wait, () => this.#sweep());
  }
}
