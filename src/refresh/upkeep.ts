/**
 * The background upkeep loop: one timer, armed for the soonest moment any work is due, never
 * keeping the process alive, re-armed in steps for delays longer than Node allows, and never
 * running two rounds at once. What is due and what to do is the host's business.
 * @module
 */
import { type Clock, scheduleAt } from "../clock.js";

/** What the loop drives. */
export interface UpkeepHost {
  /** The soonest epoch ms at which work is due, or undefined when nothing is. */
  nextDueAt(now: number): number | undefined;
  /** Does whatever is due at `now`. Must not throw (a rejection is logged by the host). */
  runDue(now: number): Promise<void>;
}

export interface UpkeepOptions {
  clock: Clock;
  /** The least time between two rounds, so a task that stays due cannot spin. @default 1_000 */
  minGapMs?: number;
  /** The longest sleep, so changes made without `poke()` are seen eventually. @default 60_000 */
  maxSleepMs?: number;
}

export class Upkeep {
  readonly #host: UpkeepHost;
  readonly #clock: Clock;
  readonly #minGapMs: number;
  readonly #maxSleepMs: number;
  #cancel: (() => void) | undefined;
  #round: Promise<void> | undefined;
  #running = false;
  #stopped = false;

  constructor(host: UpkeepHost, options: UpkeepOptions) {
    this.#host = host;
    this.#clock = options.clock;
    this.#minGapMs = options.minGapMs ?? 1_000;
    this.#maxSleepMs = options.maxSleepMs ?? 60_000;
  }

  /** Starts the loop; a second call does nothing. */
  start(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    this.#arm(this.#clock());
  }

  /** Re-plans after a change (a credential added, a policy set). */
  poke(): void {
    if (!this.#running || this.#round) return;
    this.#arm(this.#clock());
  }

  /** Stops the loop and waits for a round in progress. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#running = false;
    this.#cancel?.();
    this.#cancel = undefined;
    await this.#round;
  }

  /** Sleeps until the next due work, but not before `earliest` nor longer than the max sleep. */
  #arm(now: number, earliest = now): void {
    this.#cancel?.();
    const due = this.#host.nextDueAt(now);
    const latest = now + this.#maxSleepMs;
    const at = due === undefined ? latest : Math.min(Math.max(due, earliest), latest);
    this.#cancel = scheduleAt(this.#clock, at, () => this.#fire());
  }

  #fire(): void {
    this.#cancel = undefined;
    if (!this.#running) return;
    const started = this.#clock();
    this.#round = this.#host.runDue(started).finally(() => {
      this.#round = undefined;
      if (this.#running) this.#arm(this.#clock(), started + this.#minGapMs);
    });
  }
}
