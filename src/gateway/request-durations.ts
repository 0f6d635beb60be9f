/**
 * The gateway's own request histogram, by provider and status. Counted in typed arrays and
 * turned into series only when scraped: prom-client's `Histogram.observe` validates and hashes
 * the labels on every request, which costs a proxied request more than the rest of its
 * bookkeeping together.
 * @module
 */
import type { Metric, Registry } from "prom-client";
import { histogramSeries, type Value } from "../metrics/prometheus.js";

const NAME = "oauthmanager_gateway_request_duration_seconds";

/** Upper bounds (seconds) for whole requests, streams included: milliseconds to minutes. */
const BOUNDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** One provider and status: counts per bound then past the last, and the sum of seconds. */
interface Series {
  readonly provider: string;
  readonly status: number;
  readonly counts: Float64Array;
  sumSeconds: number;
}

export class RequestDurations {
  /** provider → status → series; bounded by the configured providers and HTTP's status codes. */
  readonly #series = new Map<string, Map<number, Series>>();
  /** The series counted last: under load most requests count into the one before them. */
  #last: Series | undefined;

  /** Registers the histogram in `registry`, whose scrapes then read it. */
  constructor(registry: Registry) {
    const head = {
      name: NAME,
      help: "Proxied requests from arrival to the end of the answer, by provider and status.",
      type: "histogram",
      aggregator: "sum",
    } as const;
    // What a registry calls on a metric; the values come from the counts at each scrape.
    const metric = {
      ...head,
      labelNames: ["provider", "status"],
      get: async () => ({ ...head, values: this.#values() }),
      reset: () => {},
    };
    registry.registerMetric(metric as unknown as Metric);
  }

  observe(provider: string, status: number, seconds: number): void {
    let series = this.#last;
    if (series === undefined || series.status !== status || series.provider !== provider) {
      series = this.#seriesOf(provider, status);
      this.#last = series;
    }
    let bucket = 0;
    while (bucket < BOUNDS.length && seconds > BOUNDS[bucket]!) bucket++;
    series.counts[bucket]!++;
    series.sumSeconds += seconds;
  }

  #seriesOf(provider: string, status: number): Series {
    let byStatus = this.#series.get(provider);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.#series.set(provider, byStatus);
    }
    let series = byStatus.get(status);
    if (series === undefined) {
      series = { provider, status, counts: new Float64Array(BOUNDS.length + 1), sumSeconds: 0 };
      byStatus.set(status, series);
    }
    return series;
  }

  #values(): Value[] {
    const out: Value[] = [];
    for (const byStatus of this.#series.values()) {
      for (const s of byStatus.values()) {
        const labels = { provider: s.provider, status: String(s.status) };
        histogramSeries(out, NAME, labels, BOUNDS, s.counts, s.sumSeconds, 0);
      }
    }
    return out;
  }
}
