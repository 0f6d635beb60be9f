import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createMetricsTable, MetricsRecorder } from "./credential-metrics.js";
import { PROMETHEUS_BUCKETS_SECONDS } from "./latency-histogram.js";

describe("MetricsRecorder", () => {
  it("counts requests, tokens and latency, with times at the epoch kept", () => {
    const m = new MetricsRecorder();
    m.record(30, 100, true, 0);
    m.record(10, 300, false, 5);
    m.recordTokens(12, 28);
    expect(m.requestCount).toBe(2);
    expect(m.successCount).toBe(1);
    expect(m.errorCount).toBe(1);
    expect(m.tokensUsed).toBe(40);
    expect([m.promptTokens, m.completionTokens]).toEqual([12, 28]);
    expect(m.averageLatency).toBe(200);
    expect(m.firstUsed).toBe(0);
    expect(m.lastUsed).toBe(5);
    expect(m.lastRefreshTime).toBeUndefined();
    const snap = m.snapshot(5);
    expect(snap.firstUsed).toEqual(new Date(0));
    expect(snap.latencyP50).toBeGreaterThanOrEqual(94);
    expect(snap.latencyP50).toBeLessThanOrEqual(106);
    expect(snap.latencyP99).toBe(300);
  });

  it("starts empty: no times, success rate 1, no latency", () => {
    const snap = new MetricsRecorder().snapshot(1_000);
    expect(snap).toMatchObject({
      requestCount: 0,
      successRate: 1,
      latencyP50: 0,
      averageLatency: 0,
    });
    expect(snap.firstUsed).toBeUndefined();
    expect(snap.lastUsed).toBeUndefined();
  });

  it("puts a latency on a Prometheus bound into that bound's bucket, beyond the last into +Inf", () => {
    const m = new MetricsRecorder();
    for (const s of PROMETHEUS_BUCKETS_SECONDS) m.record(0, s * 1000, true, 1);
    m.record(0, 10 * 60_000, true, 1);
    m.record(0, Number.NaN, true, 1);
    const { counts, count } = m.latency();
    expect(count).toBe(PROMETHEUS_BUCKETS_SECONDS.length + 2);
    expect(counts[0]).toBe(2); // 5 ms and NaN (counted as 0)
    expect(counts.slice(1, -1).every((c) => c === 1)).toBe(true);
    expect(counts.at(-1)).toBe(1);
  });

  it("matches a linear search of the bounds for any latency", () => {
    const bounds = PROMETHEUS_BUCKETS_SECONDS.map((s) => s * 1000);
    const near = bounds.flatMap((b) =>
      [-1, -0.5006, -0.5, -0.4994, -1e-9, 0, 1e-9, 0.0004, 0.0005, 0.0006, 1].map((d) => b + d),
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.double({ min: 0, max: 200_000, noNaN: true }), fc.constantFrom(...near)),
        (ms) => {
          const m = new MetricsRecorder();
          m.record(0, ms, true, 1);
          let expected = 0;
          while (expected < bounds.length && ms > bounds[expected]!) expected++;
          return m.latency().counts[expected] === 1;
        },
      ),
    );
  });
});

describe("MetricsTable", () => {
  it("hands a released slot out again, zeroed, and keeps a released recorder's writes apart", () => {
    const table = createMetricsTable();
    const a = new MetricsRecorder(table);
    const b = new MetricsRecorder(table);
    a.record(5, 10, true, 1);
    a.recordRefresh(2);
    a.release();
    expect(table.used).toBe(1);
    const c = new MetricsRecorder(table);
    expect(table.used).toBe(2);
    expect(c.snapshot(3)).toMatchObject({ requestCount: 0, tokensUsed: 0, refreshCount: 0 });
    expect(c.lastRefreshTime).toBeUndefined();
    // a request that finishes after its credential left the pool
    a.record(7, 10, true, 4);
    expect(c.requestCount).toBe(0);
    expect(b.requestCount).toBe(0);
  });

  it("grows in blocks and keeps every slot's figures apart", () => {
    const table = createMetricsTable();
    const recorders = Array.from({ length: 700 }, () => new MetricsRecorder(table));
    recorders.forEach((r, i) => {
      for (let k = 0; k <= i % 5; k++) r.record(i, i, true, i + 1);
    });
    recorders.forEach((r, i) => {
      expect(r.requestCount).toBe((i % 5) + 1);
      expect(r.tokensUsed).toBe(i * ((i % 5) + 1));
      expect(r.lastUsed).toBe(i + 1);
    });
    for (const r of recorders.slice(0, 300)) r.release();
    expect(table.used).toBe(400);
    for (let i = 0; i < 300; i++) new MetricsRecorder(table);
    expect(table.used).toBe(700);
  });
});

describe("percentile histogram", () => {
  it("keeps percentiles when a bucket's 16-bit count would overflow, and exact totals elsewhere", () => {
    const m = new MetricsRecorder();
    // 3:1 between 10 ms and 1 s, far past 65,535 in the larger bucket
    for (let i = 0; i < 200_000; i++) m.record(1, i % 4 === 3 ? 1_000 : 10, true, 1);
    expect(m.requestCount).toBe(200_000);
    expect(m.latency().count).toBe(200_000);
    expect(m.latency().counts.reduce((a, b) => a + b, 0)).toBe(200_000);
    expect(m.latencyQuantile(0.5)).toBeCloseTo(10, -1);
    expect(m.latencyQuantile(0.74)).toBeLessThan(11);
    expect(m.latencyQuantile(0.76)).toBeGreaterThan(900);
    expect(m.latencyQuantile(0.99)).toBe(1_000);
  });
});
