/**
 * The gateway's own request histogram. Each provider and status keeps its child series, so that
 * a request observes one: looking a series up by its labels hashes them every time.
 * @module
 */
import { Histogram, type Registry } from "prom-client";

/** Latency buckets for whole requests, streams included: milliseconds to minutes. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

type Series = ReturnType<Histogram<"provider" | "status">["labels"]>;

export class RequestDurations {
  readonly #histogram: Histogram<"provider" | "status">;
  /** provider → status → series; bounded by the configured providers and HTTP's status codes. */
  readonly #series = new Map<string, Map<number, Series>>();

  constructor(registry: Registry) {
    this.#histogram = new Histogram({
      name: "oauthmanager_gateway_request_duration_seconds",
      help: "Proxied requests from arrival to the end of the answer, by provider and status.",
      labelNames: ["provider", "status"],
      buckets: REQUEST_BUCKETS,
      registers: [registry],
    });
  }

  observe(provider: string, status: number, seconds: number): void {
    let byStatus = this.#series.get(provider);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.#series.set(provider, byStatus);
    }
    let series = byStatus.get(status);
    if (series === undefined) {
      series = this.#histogram.labels(provider, String(status));
      byStatus.set(status, series);
    }
    series.observe(seconds);
  }
}
