import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { RequestDurations } from "./request-durations.js";

const line = (text: string, series: string) =>
  text.split("\n").find((l) => l.startsWith(`${series} `));

describe("RequestDurations", () => {
  it("counts each request in its bucket, cumulatively, with sum and count per provider and status", async () => {
    const registry = new Registry();
    const durations = new RequestDurations(registry);
    durations.observe("gemini", 200, 0.007);
    durations.observe("gemini", 200, 0.005);
    durations.observe("gemini", 200, 400);
    durations.observe("gemini", 429, 0.2);
    const text = await registry.metrics();
    const m = "oauthmanager_gateway_request_duration_seconds";
    const ok = 'provider="gemini",status="200"';
    expect(text).toContain(`# TYPE ${m} histogram`);
    expect(line(text, `${m}_bucket{${ok},le="0.005"}`)).toMatch(/ 1$/);
    expect(line(text, `${m}_bucket{${ok},le="0.01"}`)).toMatch(/ 2$/);
    expect(line(text, `${m}_bucket{${ok},le="300"}`)).toMatch(/ 2$/);
    expect(line(text, `${m}_bucket{${ok},le="+Inf"}`)).toMatch(/ 3$/);
    expect(line(text, `${m}_count{${ok}}`)).toMatch(/ 3$/);
    expect(line(text, `${m}_sum{${ok}}`)).toMatch(/ 400\.012$/);
    const limited = 'provider="gemini",status="429"';
    expect(line(text, `${m}_bucket{${limited},le="0.1"}`)).toMatch(/ 0$/);
    expect(line(text, `${m}_bucket{${limited},le="0.25"}`)).toMatch(/ 1$/);
  });

  it("keeps providers and statuses apart however requests interleave", async () => {
    const registry = new Registry();
    const durations = new RequestDurations(registry);
    const seen: [string, number][] = [
      ["gemini", 200],
      ["qwen", 200],
      ["gemini", 200],
      ["gemini", 429],
      ["qwen", 429],
      ["gemini", 200],
    ];
    for (const [provider, status] of seen) durations.observe(provider, status, 0.001);
    const text = await registry.metrics();
    const count = (provider: string, status: number) =>
      line(
        text,
        `oauthmanager_gateway_request_duration_seconds_count{provider="${provider}",status="${status}"}`,
      );
    expect(count("gemini", 200)).toMatch(/ 3$/);
    expect(count("qwen", 200)).toMatch(/ 1$/);
    expect(count("gemini", 429)).toMatch(/ 1$/);
    expect(count("qwen", 429)).toMatch(/ 1$/);
  });
});
