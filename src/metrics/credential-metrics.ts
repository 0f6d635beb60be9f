/**
 * Per-credential usage figures. Counters and one fixed-size histogram: memory per credential is
 * the same after ten requests or ten million.
 * @module
 */
import type { MetricsForStrategy } from "../refresh/strategy.js";
import type { CredentialMetrics } from "../types.js";
import { LatencyHistogram } from "./latency-histogram.js";

const MS_PER_HOUR = 3_600_000;
/** Below this age (0.01 h) the request rate is the request count, as in the original. */
const MIN_RATE_WINDOW_MS = 36_000;

export class MetricsRecorder {
  requestCount = 0;
  successCount = 0;
  errorCount = 0;
  tokensUsed = 0;
  firstUsed: number | undefined;
  lastUsed: number | undefined;
  refreshCount = 0;
  refreshFailures = 0;
  lastRefreshTime: number | undefined;
  readonly latency = new LatencyHistogram();

  record(tokensUsed: number, latencyMs: number, success: boolean, now: number): void {
    this.requestCount++;
    if (success) this.successCount++;
    else this.errorCount++;
    if (tokensUsed > 0 && Number.isFinite(tokensUsed)) this.tokensUsed += tokensUsed;
    this.latency.record(latencyMs);
    this.firstUsed ??= now;
    this.lastUsed = now;
  }

  recordRefresh(now: number): void {
    this.refreshCount++;
    this.lastRefreshTime = now;
  }

  get successRate(): number {
    return this.requestCount === 0 ? 1 : this.successCount / this.requestCount;
  }

  get averageLatency(): number {
    return this.requestCount === 0 ? 0 : this.latency.sumMs / this.latency.count;
  }

  requestsPerHour(now: number): number {
    if (this.firstUsed === undefined) return 0;
    const age = now - this.firstUsed;
    if (age < MIN_RATE_WINDOW_MS) return this.requestCount;
    return this.requestCount / (age / MS_PER_HOUR);
  }

  /** What the refresh strategies read; cheap enough for every request. */
  forStrategy(now: number): MetricsForStrategy {
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
      totalLatency: this.latency.sumMs,
      averageLatency: this.averageLatency,
      refreshCount: this.refreshCount,
      successRate: this.successRate,
      requestsPerHour: this.requestsPerHour(now),
      latencyP50: this.latency.quantile(0.5),
      latencyP95: this.latency.quantile(0.95),
      latencyP99: this.latency.quantile(0.99),
    };
    if (this.firstUsed !== undefined) m.firstUsed = new Date(this.firstUsed);
    if (this.lastUsed !== undefined) m.lastUsed = new Date(this.lastUsed);
    if (this.lastRefreshTime !== undefined) m.lastRefreshTime = new Date(this.lastRefreshTime);
    return m;
  }
}
