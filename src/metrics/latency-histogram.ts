/**
 * Latency distribution in fixed memory: a log-linear histogram (8 sub-buckets per power of two
 * of microseconds, about 6 % relative error) for percentiles, and the bucket of the exported
 * Prometheus histogram. Memory does not grow with the number of requests. The counts live in a
 * slice of a typed array that many credentials share (see `MetricsTable`); these functions read
 * and write that slice.
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

/** Buckets one percentile histogram takes (16-bit counts). */
export const PERCENTILE_BUCKETS = BUCKET_COUNT;
/** Counts one Prometheus histogram takes: one per bound, then `+Inf`. */
export const PROMETHEUS_BUCKETS = PROMETHEUS_BOUNDS_MS.length + 1;
const MAX_COUNT = 0xffff;

/** A latency in ms as recorded: negatives, NaN and Infinity count as 0. */
export function latencyValue(ms: number): number {
  return ms > 0 && ms !== Number.POSITIVE_INFINITY ? ms : 0;
}

/**
 * Counts a latency (ms, as {@link latencyValue} returns it) into the percentile histogram at
 * `counts[base …]`. The counts are 16-bit, which halves the memory of the largest part of a
 * credential's figures: when one would overflow, every count is halved (rounding up, so no
 * observed bucket empties). Percentiles depend only on the counts' proportions, which halving
 * keeps; the histogram then leans slightly towards recent requests.
 * @returns the Prometheus bucket of `ms`, as {@link prometheusBucket} gives it
 */
export function recordPercentile(counts: Uint16Array, base: number, ms: number): number {
  const micros = Math.min(Math.round(ms * 1000), MAX_MICROS);
  const index = bucketIndex(micros);
  const at = base + index;
  if (counts[at] === MAX_COUNT) {
    for (let i = base; i < base + BUCKET_COUNT; i++) counts[i] = (counts[i]! + 1) >>> 1;
  }
  counts[at]!++;
  const prometheus = PROMETHEUS_OF_BUCKET[index]!;
  return prometheus >= 0 ? prometheus : prometheusBucket(ms);
}

/** The index of the Prometheus bucket `ms` falls in (`le` is inclusive); the last is `+Inf`. */
export function prometheusBucket(ms: number): number {
  let lo = 0;
  let hi = PROMETHEUS_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms > PROMETHEUS_BOUNDS_MS[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The Prometheus bucket of every latency that lands in a percentile bucket, or -1 where a
 * Prometheus bound falls inside (or, by rounding to microseconds, next to) that bucket: most
 * requests then find their Prometheus bucket by one lookup instead of a search.
 */
const PROMETHEUS_OF_BUCKET = (() => {
  const table = new Int8Array(BUCKET_COUNT);
  for (let i = 0; i < BUCKET_COUNT; i++) {
    const width = i < SUB_BUCKETS ? 1 : 2 ** ((i - SUB_BUCKETS) >>> SUB_BUCKET_BITS);
    const low = bucketMidpoint(i) - width / 2;
    const first = prometheusBucket(Math.max(0, low - 1) / 1000);
    const last = prometheusBucket((low + width) / 1000);
    table[i] = first === last ? first : -1;
  }
  return table;
})();

/**
 * The latency (ms) below which a fraction `q` (0..1) of requests fall, clamped to the observed
 * minimum and maximum; 0 with no data.
 */
export function latencyQuantile(
  counts: Uint16Array,
  base: number,
  q: number,
  minMs: number,
  maxMs: number,
): number {
  let total = 0;
  for (let i = base; i < base + BUCKET_COUNT; i++) total += counts[i]!;
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < BUCKET_COUNT; i++) {
    seen += counts[base + i]!;
    if (seen >= rank) return Math.min(Math.max(bucketMidpoint(i) / 1000, minMs), maxMs);
  }
  return maxMs;
}
