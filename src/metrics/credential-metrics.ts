/**
 * Per-credential usage figures: counters and a fixed-size latency histogram, packed into a slot
 * of a {@link MetricsTable} that the whole pool shares. Memory per credential is the same after
 * ten requests or ten million.
 * @module
 */
import type { CredentialMetrics } from "../types.js";
import {
  latencyQuantile,
  latencyValue,
  PERCENTILE_BUCKETS,
  PROMETHEUS_BUCKETS,
  PROMETHEUS_BUCKETS_SECONDS,
  recordPercentile,
} from "./latency-histogram.js";
import { MetricsTable, type Slot } from "./metrics-table.js";
import { ERROR_KINDS, type ErrorKind } from "./prometheus.js";

const KIND_OFFSET: Readonly<Record<ErrorKind, number>> = Object.fromEntries(
  ERROR_KINDS.map((kind, i) => [kind, i]),
) as Record<ErrorKind, number>;

const MS_PER_HOUR = 3_600_000;
/**
 * Below this age (0.01 h) the request rate is the request count: a rate over a few seconds
 * would be huge and meaningless, and the adaptive refresh buffer reads it.
 */
const MIN_RATE_WINDOW_MS = 36_000;

// Offsets of the counters in a slot's doubles. Times are epoch ms, NaN for "never". What every
// request writes comes first, the Prometheus buckets right after it: a request touches as few
// cache lines of the table as it can, which shows once a pool is too large for the CPU's caches.
const REQUESTS = 0;
const LAST_USED = 1;
const LATENCY_SUM = 2;
const LATENCY_MIN = 3;
const LATENCY_MAX = 4;
/** The exported Prometheus histogram's counts: doubles stay exact far past 2^32 requests. */
const PROMETHEUS = 5;
// Successes are not counted apart: every request is a success or an error.
const ERRORS = PROMETHEUS + PROMETHEUS_BUCKETS;
const TOKENS = ERRORS + 1;
const PROMPT_TOKENS = ERRORS + 2;
const COMPLETION_TOKENS = ERRORS + 3;
const FIRST_USED = ERRORS + 4;
const REFRESHES = ERRORS + 5;
const REFRESH_FAILURES = ERRORS + 6;
const LAST_REFRESH = ERRORS + 7;
/** Failed requests by kind, in the order of `ERROR_KINDS`. */
const ERRORS_BY_KIND = ERRORS + 8;
const FLOAT_WIDTH = ERRORS_BY_KIND + ERROR_KINDS.length;

/** A table for one pool's metrics. */
export function createMetricsTable(): MetricsTable {
  return new MetricsTable(FLOAT_WIDTH, PERCENTILE_BUCKETS);
}

/** The latency histogram in the shape the Prometheus collector reads. */
export interface LatencyView {
  bucketsSeconds: readonly number[];
  counts: number[];
  sumSeconds: number;
  count: number;
}

export class MetricsRecorder {
  readonly #table: MetricsTable;
  #f: Float64Array;
  #fb: number;
  #c: Uint16Array;
  #cb: number;
  #slot: Slot | undefined;

  /** @param table shared by the pool; a recorder of its own when absent */
  constructor(table: MetricsTable = createMetricsTable()) {
    this.#table = table;
    const slot = table.allocate();
    this.#slot = slot;
    this.#f = slot.floats;
    this.#fb = slot.floatBase;
    this.#c = slot.counts;
    this.#cb = slot.countBase;
    this.#clearTimes();
  }

  /**
   * Returns the slot to the table. Later records go to a private scratch slot, so a request that
   * finishes after its credential left the pool cannot write into another credential's figures.
   */
  release(): void {
    const slot = this.#slot;
    if (!slot) return;
    this.#slot = undefined;
    this.#table.release(slot);
    this.#f = new Float64Array(FLOAT_WIDTH);
    this.#fb = 0;
    this.#c = new Uint16Array(PERCENTILE_BUCKETS);
    this.#cb = 0;
    this.#clearTimes();
  }

  /**
   * Counts one request. `tokensUsed` is prompt + completion tokens; `errorKind` says why a
   * failed one failed.
   */
  record(
    tokensUsed: number,
    latencyMs: number,
    success: boolean,
    now: number,
    errorKind: ErrorKind = "other",
  ): void {
    const f = this.#f;
    const b = this.#fb;
    const requests = ++f[b + REQUESTS]!;
    if (!success) {
      f[b + ERRORS]!++;
      f[b + ERRORS_BY_KIND + (KIND_OFFSET[errorKind] ?? KIND_OFFSET.other)]!++;
    }
    if (tokensUsed > 0 && tokensUsed !== Number.POSITIVE_INFINITY) f[b + TOKENS]! += tokensUsed;
    const ms = latencyValue(latencyMs);
    f[b + PROMETHEUS + recordPercentile(this.#c, this.#cb, ms)]!++;
    f[b + LATENCY_SUM]! += ms;
    // The first request sets the minimum and the first use: neither is read again on each request.
    if (requests === 1) {
      f[b + LATENCY_MIN] = ms;
      f[b + FIRST_USED] = now;
    } else if (ms < f[b + LATENCY_MIN]!) f[b + LATENCY_MIN] = ms;
    if (ms > f[b + LATENCY_MAX]!) f[b + LATENCY_MAX] = ms;
    f[b + LAST_USED] = now;
  }

  /** Counts the prompt and completion tokens of a request apart (their sum goes to `record`). */
  recordTokens(promptTokens: number, completionTokens: number): void {
    const f = this.#f;
    const b = this.#fb;
    if (promptTokens > 0 && Number.isFinite(promptTokens)) f[b + PROMPT_TOKENS]! += promptTokens;
    if (completionTokens > 0 && Number.isFinite(completionTokens)) {
      f[b + COMPLETION_TOKENS]! += completionTokens;
    }
  }

  recordRefresh(now: number): void {
    this.#f[this.#fb + REFRESHES]!++;
    this.#f[this.#fb + LAST_REFRESH] = now;
  }

  recordRefreshFailure(): void {
    this.#f[this.#fb + REFRESH_FAILURES]!++;
  }

  get requestCount(): number {
    return this.#f[this.#fb + REQUESTS]!;
  }

  get successCount(): number {
    return this.requestCount - this.errorCount;
  }

  get errorCount(): number {
    return this.#f[this.#fb + ERRORS]!;
  }

  /** Failed requests by kind. */
  errorsByKind(): Record<ErrorKind, number> {
    const out = {} as Record<ErrorKind, number>;
    ERROR_KINDS.forEach((kind, i) => {
      out[kind] = this.#f[this.#fb + ERRORS_BY_KIND + i]!;
    });
    return out;
  }

  get tokensUsed(): number {
    return this.#f[this.#fb + TOKENS]!;
  }

  get promptTokens(): number {
    return this.#f[this.#fb + PROMPT_TOKENS]!;
  }

  get completionTokens(): number {
    return this.#f[this.#fb + COMPLETION_TOKENS]!;
  }

  get refreshCount(): number {
    return this.#f[this.#fb + REFRESHES]!;
  }

  get refreshFailures(): number {
    return this.#f[this.#fb + REFRESH_FAILURES]!;
  }

  get firstUsed(): number | undefined {
    return this.#time(FIRST_USED);
  }

  get lastUsed(): number | undefined {
    return this.#time(LAST_USED);
  }

  get lastRefreshTime(): number | undefined {
    return this.#time(LAST_REFRESH);
  }

  get latencySumMs(): number {
    return this.#f[this.#fb + LATENCY_SUM]!;
  }

  get successRate(): number {
    const requests = this.requestCount;
    return requests === 0 ? 1 : this.successCount / requests;
  }

  get averageLatency(): number {
    const requests = this.requestCount;
    return requests === 0 ? 0 : this.latencySumMs / requests;
  }

  /** The latency (ms) below which a fraction `q` of requests fall; 0 with no data. */
  latencyQuantile(q: number): number {
    const f = this.#f;
    const b = this.#fb;
    return latencyQuantile(this.#c, this.#cb, q, f[b + LATENCY_MIN]!, f[b + LATENCY_MAX]!);
  }

  /** The latency histogram as Prometheus buckets. */
  latency(): LatencyView {
    return {
      bucketsSeconds: PROMETHEUS_BUCKETS_SECONDS,
      counts: Array.from(
        this.#f.subarray(this.#fb + PROMETHEUS, this.#fb + PROMETHEUS + PROMETHEUS_BUCKETS),
      ),
      sumSeconds: this.latencySumMs / 1000,
      count: this.requestCount,
    };
  }

  requestsPerHour(now: number): number {
    const first = this.firstUsed;
    if (first === undefined) return 0;
    const age = now - first;
    if (age < MIN_RATE_WINDOW_MS) return this.requestCount;
    return this.requestCount / (age / MS_PER_HOUR);
  }

  /** What the refresh strategies read; cheap enough for every request. */
  forStrategy(
    now: number,
  ): Pick<
    CredentialMetrics,
    "requestCount" | "averageLatency" | "requestsPerHour" | "successRate"
  > {
    return {
      requestCount: this.requestCount,
      averageLatency: this.averageLatency,
      requestsPerHour: this.requestsPerHour(now),
      successRate: this.successRate,
    };
  }

  snapshot(now: number): CredentialMetrics {
    const m: CredentialMetrics = {
      requestCount: this.requestCount,
      successCount: this.successCount,
      errorCount: this.errorCount,
      tokensUsed: this.tokensUsed,
      totalLatency: this.latencySumMs,
      averageLatency: this.averageLatency,
      refreshCount: this.refreshCount,
      successRate: this.successRate,
      requestsPerHour: this.requestsPerHour(now),
      latencyP50: this.latencyQuantile(0.5),
      latencyP95: this.latencyQuantile(0.95),
      latencyP99: this.latencyQuantile(0.99),
    };
    const first = this.firstUsed;
    const last = this.lastUsed;
    const refreshed = this.lastRefreshTime;
    if (first !== undefined) m.firstUsed = new Date(first);
    if (last !== undefined) m.lastUsed = new Date(last);
    if (refreshed !== undefined) m.lastRefreshTime = new Date(refreshed);
    return m;
  }

  #time(offset: number): number | undefined {
    const t = this.#f[this.#fb + offset]!;
    return Number.isNaN(t) ? undefined : t;
  }

  #clearTimes(): void {
    this.#f[this.#fb + FIRST_USED] = Number.NaN;
    this.#f[this.#fb + LAST_USED] = Number.NaN;
    this.#f[this.#fb + LAST_REFRESH] = Number.NaN;
  }
}
