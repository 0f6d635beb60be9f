/**
 * Usage budgets: tokens and cost per credential and per pool, counted per UTC hour, day and
 * month; a warning once per window at a share of a limit, and at 100 % an alert and, when
 * enforced, the credential out of selection until its window ends. Counters go to the token
 * store beside each credential's token, merged with what other processes counted there.
 *
 * Memory is fixed per credential (one counter per window), whatever the traffic.
 * @module
 */
import { type Clock, scheduleAt } from "../clock.js";
import type { Notifier } from "../monitoring/notifier.js";
import type { PoolEntry } from "../pool/entry.js";
import type { CredentialPool } from "../pool/pool.js";
import type { StoredUsage } from "../stores/types.js";
import type { BudgetUsage } from "../types.js";
import {
  BUDGET_WINDOWS,
  type BudgetLimit,
  type BudgetLimits,
  type BudgetWindow,
  type ResolvedBudgets,
} from "./options.js";
import { windowBounds } from "./windows.js";

/** One window's count. */
interface Counter {
  readonly window: BudgetWindow;
  start: number;
  end: number;
  tokens: number;
  cost: number;
  /** What the store held for this window when last read or written (this process's base). */
  syncedTokens: number;
  syncedCost: number;
  /** Alerts sent in this window (or before a restart, by the stored count). */
  warned: boolean;
  exhausted: boolean;
}

/** What {@link UsageBudget} works with. */
export interface UsageBudgetDeps {
  pool: CredentialPool;
  notifier: Notifier;
  now: Clock;
  options: ResolvedBudgets;
  /**
   * Writes `entry`'s counters to the store, read back and merged under its lock first (through
   * {@link UsageBudget.forSave}). Undefined without a store: counters live in memory only.
   */
  save?: ((entry: PoolEntry) => Promise<void>) | undefined;
}

const PROVIDER = "*";

export class UsageBudget {
  readonly #deps: UsageBudgetDeps;
  readonly #options: ResolvedBudgets;
  /** The windows any limit counts over; only these are tracked. */
  readonly #windows: BudgetWindow[];
  readonly #credentials = new Map<PoolEntry, Counter[]>();
  readonly #provider: Counter[];
  /** Credentials counted since their last write to the store. */
  readonly #dirty = new Set<PoolEntry>();
  #cancelFlush: (() => void) | undefined;
  #flushAt = Number.POSITIVE_INFINITY;
  #flushing: Promise<void> | undefined;
  #closed = false;

  constructor(deps: UsageBudgetDeps) {
    this.#deps = deps;
    const o = deps.options;
    this.#options = o;
    this.#windows = limitedWindows(o);
    this.#provider = this.#counters(deps.now());
    deps.pool.listen({
      added: (entry) => {
        const now = this.#deps.now();
        this.#credentials.set(entry, this.#counters(now));
        // The pool's budget is used up for this window: a credential added now stays out too.
        for (const c of this.#provider) {
          this.#roll(c, now);
          if (c.exhausted && this.#options.enforce) this.#hold(entry, c.end, now);
        }
      },
      removed: (entry) => {
        this.#credentials.delete(entry);
        this.#dirty.delete(entry);
      },
    });
  }

  /**
   * Counts a request's tokens for `entry` and its pool, priced by `model`; raises the alerts due
   * and, when enforced, holds what is used up.
   */
  record(
    entry: PoolEntry,
    promptTokens: number,
    completionTokens: number,
    model: string | undefined,
    now: number,
  ): void {
    const prompt = promptTokens > 0 && Number.isFinite(promptTokens) ? promptTokens : 0;
    const completion =
      completionTokens > 0 && Number.isFinite(completionTokens) ? completionTokens : 0;
    const tokens = prompt + completion;
    if (tokens === 0) return;
    const counters = this.#credentials.get(entry);
    if (!counters) return;
    const price = model === undefined ? this.#options.prices["*"] : this.#priceOf(model);
    const cost = price ? (prompt * price.input + completion * price.output) / 1_000_000 : 0;
    const limits = this.#limitsOf(entry.id);
    for (const c of counters) {
      this.#roll(c, now);
      c.tokens += tokens;
      c.cost += cost;
      this.#check(c, limits[c.window], entry, now);
    }
    for (const c of this.#provider) {
      this.#roll(c, now);
      c.tokens += tokens;
      c.cost += cost;
      this.#check(c, this.#options.provider[c.window], undefined, now);
    }
    this.#dirty.add(entry);
    this.#scheduleFlush(now + this.#options.flushIntervalMs);
  }

  /**
   * Takes the counters stored for `entry` (at load, or read under its lock before a write):
   * this process's counts not yet written are added to them. Limits the stored counts alone
   * reach count as alerted already, by whichever process counted them.
   * @param silent also for the pool's limits (the first load: every credential adds its part)
   */
  merge(entry: PoolEntry, stored: readonly StoredUsage[] | undefined, silent: boolean): void {
    const counters = this.#credentials.get(entry);
    if (!counters || !stored) return;
    const now = this.#deps.now();
    const limits = this.#limitsOf(entry.id);
    for (const c of counters) {
      this.#roll(c, now);
      const s = stored.find((u) => u.window === c.window && u.start.getTime() === c.start);
      if (!s) continue;
      const addTokens = s.tokens - c.syncedTokens;
      const addCost = s.cost - c.syncedCost;
      c.tokens += addTokens;
      c.cost += addCost;
      c.syncedTokens = s.tokens;
      c.syncedCost = s.cost;
      this.#markReached(c, limits[c.window], s.tokens, s.cost);
      this.#check(c, limits[c.window], entry, now);
      const p = this.#provider.find((x) => x.window === c.window);
      if (p) {
        this.#roll(p, now);
        p.tokens += addTokens;
        p.cost += addCost;
        const limit = this.#options.provider[p.window];
        if (silent) this.#markReached(p, limit, p.tokens, p.cost);
        this.#check(p, limit, undefined, now);
      }
    }
  }

  /**
   * The counters to store for `entry`: the store's counts (when read) plus this process's since
   * its last write. Undefined when `entry` has none. Hand them to {@link saved} once written.
   */
  forSave(entry: PoolEntry, stored?: readonly StoredUsage[]): StoredUsage[] | undefined {
    const counters = this.#credentials.get(entry);
    if (!counters || counters.length === 0) return undefined;
    if (stored) this.merge(entry, stored, false);
    const now = this.#deps.now();
    return counters.map((c) => {
      this.#roll(c, now);
      return { window: c.window, start: new Date(c.start), tokens: c.tokens, cost: c.cost };
    });
  }

  /** `usage` (from {@link forSave}) is in the store now: counts since are this process's own. */
  saved(entry: PoolEntry, usage: readonly StoredUsage[]): void {
    const counters = this.#credentials.get(entry);
    if (!counters) return;
    for (const u of usage) {
      const c = counters.find((x) => x.window === u.window && x.start === u.start.getTime());
      if (!c) continue;
      c.syncedTokens = u.tokens;
      c.syncedCost = u.cost;
    }
    if (counters.every((c) => c.tokens === c.syncedTokens)) this.#dirty.delete(entry);
  }

  /** `entry`'s figures per window; undefined when budgets are off or it has none. */
  credentialUsage(entry: PoolEntry, now: number): BudgetUsage[] | undefined {
    const counters = this.#credentials.get(entry);
    if (!counters || counters.length === 0) return undefined;
    const limits = this.#limitsOf(entry.id);
    return counters.map((c) => this.#usage(c, limits[c.window], now));
  }

  /** The pool's figures per window, for the windows a provider limit counts over. */
  providerUsage(now: number): BudgetUsage[] | undefined {
    const limited = this.#provider.filter((c) => this.#options.provider[c.window] !== undefined);
    if (limited.length === 0) return undefined;
    return limited.map((c) => this.#usage(c, this.#options.provider[c.window], now));
  }

  /** Writes every credential counted since its last write; waits for a write in progress. */
  async flush(): Promise<void> {
    this.#cancelFlush?.();
    this.#cancelFlush = undefined;
    this.#flushAt = Number.POSITIVE_INFINITY;
    while (this.#flushing) await this.#flushing;
    const save = this.#deps.save;
    if (!save || this.#dirty.size === 0) return;
    this.#flushing = (async () => {
      for (const entry of [...this.#dirty]) {
        if (entry.removed) continue;
        await save(entry).catch(() => {
          // Reported by the store sync; the counts stay in memory for the next write.
        });
      }
    })();
    try {
      await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
    // A write that failed is tried again at the next interval.
    if (this.#dirty.size > 0 && !this.#closed) {
      this.#scheduleFlush(this.#deps.now() + this.#options.flushIntervalMs);
    }
  }

  /** Stops the flush timer and writes what is left. */
  close(): Promise<void> {
    this.#closed = true;
    return this.flush();
  }

  #counters(now: number): Counter[] {
    return this.#windows.map((window) => {
      const { start, end } = windowBounds(window, now);
      return {
        window,
        start,
        end,
        tokens: 0,
        cost: 0,
        syncedTokens: 0,
        syncedCost: 0,
        warned: false,
        exhausted: false,
      };
    });
  }

  #roll(c: Counter, now: number): void {
    if (now < c.end && now >= c.start) return;
    const { start, end } = windowBounds(c.window, now);
    c.start = start;
    c.end = end;
    c.tokens = 0;
    c.cost = 0;
    c.syncedTokens = 0;
    c.syncedCost = 0;
    c.warned = false;
    c.exhausted = false;
  }

  #limitsOf(id: string): BudgetLimits {
    return this.#options.credentials[id] ?? this.#options.credential;
  }

  #priceOf(model: string) {
    const prices = this.#options.prices;
    return Object.hasOwn(prices, model) ? prices[model] : prices["*"];
  }

  /** Notes as alerted the thresholds that `tokens` and `cost` reach, without alerting. */
  #markReached(c: Counter, limit: BudgetLimit | undefined, tokens: number, cost: number): void {
    if (!limit) return;
    const share = shareOf(limit, tokens, cost);
    if (share >= this.#options.alertAt) c.warned = true;
    if (share >= 1) c.exhausted = true;
  }

  /**
   * Alerts for a threshold newly reached in `c`'s window: the warning share, then 100 %, each
   * once. With `enforce`, a used-up limit holds the credential (every one, for the pool's) out
   * of selection until the window ends.
   */
  #check(
    c: Counter,
    limit: BudgetLimit | undefined,
    entry: PoolEntry | undefined,
    now: number,
  ): void {
    if (!limit) return;
    const share = shareOf(limit, c.tokens, c.cost);
    const { enforce, alertAt } = this.#options;
    if (share >= 1) {
      if (enforce) {
        if (entry) this.#hold(entry, c.end, now);
        else for (const e of this.#deps.pool.entries.values()) this.#hold(e, c.end, now);
      }
      if (c.exhausted) return;
      c.exhausted = true;
      c.warned = true;
      this.#alert("budget_exhausted", c, limit, share, entry);
    } else if (share >= alertAt && !c.warned) {
      c.warned = true;
      this.#alert("budget_warning", c, limit, share, entry);
    } else {
      return;
    }
    // An alert sent must not be sent again after a restart: its count goes to the store now.
    if (entry) this.#dirty.add(entry);
    this.#scheduleFlush(now);
  }

  #hold(entry: PoolEntry, until: number, now: number): void {
    if (entry.heldUntil < until) this.#deps.pool.hold(entry, until, now);
  }

  #alert(
    reason: "budget_warning" | "budget_exhausted",
    c: Counter,
    limit: BudgetLimit,
    share: number,
    entry: PoolEntry | undefined,
  ): void {
    const scope = entry ? "credential" : "provider";
    const message =
      reason === "budget_exhausted"
        ? `Usage budget used up for this ${c.window}`
        : `Usage budget at ${Math.floor(share * 100)}% for this ${c.window}`;
    this.#deps.notifier.raise(
      entry?.id ?? PROVIDER,
      message,
      {
        reason,
        scope,
        window: c.window,
        window_start: new Date(c.start).toISOString(),
        window_end: new Date(c.end).toISOString(),
        tokens: c.tokens,
        cost: c.cost,
        token_limit: limit.tokens ?? null,
        cost_limit: limit.cost ?? null,
        share,
        held_until:
          reason === "budget_exhausted" && this.#options.enforce
            ? new Date(c.end).toISOString()
            : null,
      },
      // Once per window is this module's own bookkeeping; a cooldown would drop the next window's.
      0,
    );
  }

  #usage(c: Counter, limit: BudgetLimit | undefined, now: number): BudgetUsage {
    this.#roll(c, now);
    const usage: BudgetUsage = {
      window: c.window,
      start: new Date(c.start),
      end: new Date(c.end),
      tokens: c.tokens,
      cost: c.cost,
      share: limit ? shareOf(limit, c.tokens, c.cost) : 0,
    };
    if (limit?.tokens !== undefined) usage.tokenLimit = limit.tokens;
    if (limit?.cost !== undefined) usage.costLimit = limit.cost;
    return usage;
  }

  #scheduleFlush(at: number): void {
    if (!this.#deps.save || this.#closed || at >= this.#flushAt) return;
    this.#cancelFlush?.();
    this.#flushAt = at;
    this.#cancelFlush = scheduleAt(this.#deps.now, at, () => {
      this.#cancelFlush = undefined;
      void this.flush();
    });
  }
}

/** The larger of the shares of the token and cost limits used. */
function shareOf(limit: BudgetLimit, tokens: number, cost: number): number {
  const byTokens = limit.tokens === undefined ? 0 : tokens / limit.tokens;
  const byCost = limit.cost === undefined ? 0 : cost / limit.cost;
  return Math.max(byTokens, byCost);
}

/** The windows some limit of `options` applies to; none: the budget has nothing to count. */
export function limitedWindows(options: ResolvedBudgets): BudgetWindow[] {
  const limited = [options.credential, options.provider, ...Object.values(options.credentials)];
  return BUDGET_WINDOWS.filter((w) => limited.some((l) => l[w] !== undefined));
}
