/**
 * Latency distribution in fixed memory: a log-linear histogram (8 sub-buckets per power of two
 * of microseconds, about 6 % relative error) for percentiles, and counts per Prometheus bucket.
 * Memory does not grow with the number of requests.
 * @module
 */

const SUB_BUCKET_BITS = 3;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
/** Values up to 2^32 µs (about 71 minutes); longer ones land in the last bucket. */
const MAX_EXPONENT = 31;
const BUCKET_COUNT = SUB_BUCKETS + (MAX_EXPONENT - SUB_BUCKET_BITS + 1) * SUB_BUCKETS;
const MAX_MICROS = 2 ** 32 - 1;

/** Upper bounds (seconds) of the exported Prometheus histogram; `+Inf` is implied. */
export const PROMETHEUS_BUCKETS_SECONDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
];
const PROMETHEUS_BOUNDS_MS = PROMETHEUS_BUCKETS_SECONDS.map((s) => s * 1000);

function bucketIndex(micros: number): number {
  if (micros < SUB_BUCKETS) return micros;
  const exponent = 31 - Math.clz32(micros);
  const sub = (micros >>> (exponent - SUB_BUCKET_BITS)) & (SUB_BUCKETS - 1);
  return SUB_BUCKETS + (exponent - SUB_BUCKET_BITS) * SUB_BUCKETS + sub;
}

/** The middle of a bucket, in microseconds. */
function bucketMidpoint(index: number): number {
  if (index < SUB_BUCKETS) return index;
  const exponent = ((index - SUB_BUCKETS) >>> SUB_BUCKET_BITS) + SUB_BUCKET_BITS;
  const sub = (index - SUB_BUCKETS) & (SUB_BUCKETS - 1);
  const width = 2 ** (exponent - SUB_BUCKET_BITS);
  return 2 ** exponent + sub * width + width / 2;
}

export class LatencyHistogram {
  /**
   * The log-linear buckets, then the Prometheus buckets, in one array: one allocation and one
   * less cache line to touch per request.
   */
  readonly #counts = new Uint32Array(BUCKET_COUNT + PROMETHEUS_BOUNDS_MS.length + 1);
  #count = 0;
  #sumMs = 0;
  #minMs = Number.POSITIVE_INFINITY;
  #maxMs = 0;

  /** Records one latency in milliseconds; negatives, NaN and Infinity count as 0. */
  record(ms: number): void {
    const value = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const micros = Math.min(Math.round(value * 1000), MAX_MICROS);
    this.#counts[bucketIndex(micros)]!++;
    let p = 0;
    while (p < PROMETHEUS_BOUNDS_MS.length && value > PROMETHEUS_BOUNDS_MS[p]!) p++;
    this.#counts[BUCKET_COUNT + p]!++;
    this.#count++;
    this.#sumMs += value;
    if (value < this.#minMs) this.#minMs = value;
    if (value > this.#maxMs) this.#maxMs = value;
  }

  get count(): number {
    return this.#count;
  }

  get sumMs(): number {
    return this.#sumMs;
  }

  /** The latency (ms) below which a fraction `q` (0..1) of requests fall; 0 with no data. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const estimate = bucketMidpoint(i) / 1000;
        return Math.min(Math.max(estimate, this.#minMs), this.#maxMs);
      }
    }
    return this.#maxMs;
  }

  /** Per-bucket (not cumulative) counts for {@link PROMETHEUS_BUCKETS_SECONDS}, `+Inf` last. */
  prometheusCounts(): number[] {
    return Array.from(this.#counts.subarray(BUCKET_COUNT));
  }
}
