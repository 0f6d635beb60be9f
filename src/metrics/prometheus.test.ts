import { Counter, type OpenMetricsContentType, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  type CredentialSample,
  createCollector,
  METRIC_NAMES,
  type ProviderSample,
} from "./prometheus.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
}

/** A small parser of the Prometheus text format 0.0.4; throws on any line it does not understand. */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      (m[1] === "HELP" ? help : types).set(m[2]!, m[3]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable line: ${line}`);
    samples.push({ name: m[1]!, labels: parseLabels(m[2] ?? ""), value: parseValue(m[3]!) });
  }
  return { types, help, samples };
}

function parseLabels(s: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const nameMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
    if (!nameMatch) throw new Error(`bad labels: ${s}`);
    i += nameMatch[0].length;
    let value = "";
    for (;;) {
      const c = s[i++];
      if (c === undefined) throw new Error(`unterminated label value: ${s}`);
      if (c === '"') break;
      if (c === "\\") {
        const e = s[i++];
        value += e === "n" ? "\n" : e === "\\" ? "\\" : e === '"' ? '"' : `\\${e}`;
      } else {
        if (c === "\n") throw new Error("raw newline in label value");
        value += c;
      }
    }
    labels[nameMatch[1]!] = value;
    if (s[i] === ",") i++;
  }
  return labels;
}

function parseValue(v: string): number {
  if (v === "+Inf") return Number.POSITIVE_INFINITY;
  if (v === "-Inf") return Number.NEGATIVE_INFINITY;
  if (v === "NaN") return Number.NaN;
  const n = Number(v);
  if (Number.isNaN(n)) throw new Error(`bad value: ${v}`);
  return n;
}

function find(exp: Exposition, name: string, labels: Record<string, string>): number | undefined {
  return exp.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

function cred(over: Partial<CredentialSample> = {}): CredentialSample {
  return {
    credential: "team",
    requests: 10,
    successes: 8,
    errors: 2,
    tokensUsed: 1234,
    refreshes: 3,
    refreshFailures: 1,
    healthy: true,
    available: false,
    inBackoff: true,
    errorsByKind: { rate_limit: 1, network: 1 },
    promptTokens: 1000,
    completionTokens: 234,
    state: "cooling",
    expiresAtSeconds: 1_800_003_599.5,
    latency: {
      bucketsSeconds: [0.1, 0.5, 1],
      counts: [4, 3, 2, 1],
      sumSeconds: 4.25,
      count: 10,
    },
    ...over,
  };
}

const gemini = (): ProviderSample => ({
  provider: "gemini",
  credentials: [
    cred(),
    cred({
      credential: "personal",
      healthy: false,
      expiresAtSeconds: undefined,
      errorsByKind: undefined,
      promptTokens: undefined,
      completionTokens: undefined,
      state: undefined,
    }),
  ],
  calls: { ok: 7, failed_over: 2, unavailable: 1 },
  webhook: { sent: 5, failed: 1, dropped: 2 },
  unlockedRefreshes: 3,
});

describe("createCollector", () => {
  it("exposes every metric with its type, prefixed and with base units", async () => {
    const exp = parseExposition(await createCollector(gemini).metrics());
    expect([...exp.types.keys()]).toEqual(METRIC_NAMES);
    expect(Object.fromEntries(exp.types)).toEqual({
      oauthmanager_requests_total: "counter",
      oauthmanager_successes_total: "counter",
      oauthmanager_errors_total: "counter",
      oauthmanager_tokens_used_total: "counter",
      oauthmanager_tokens_total: "counter",
      oauthmanager_refreshes_total: "counter",
      oauthmanager_refresh_failures_total: "counter",
      oauthmanager_credential_healthy: "gauge",
      oauthmanager_credential_available: "gauge",
      oauthmanager_credential_in_backoff: "gauge",
      oauthmanager_credential_state: "gauge",
      oauthmanager_token_expiry_timestamp_seconds: "gauge",
      oauthmanager_calls_total: "counter",
      oauthmanager_request_duration_seconds: "histogram",
      oauthmanager_webhook_deliveries_total: "counter",
      oauthmanager_scope_cooling_credentials: "gauge",
      oauthmanager_unlocked_refreshes_total: "counter",
    });
    for (const name of exp.types.keys()) expect(exp.help.get(name)).toBeTruthy();
  });

  it("reads per-credential values from the snapshot", async () => {
    const exp = parseExposition(await createCollector(gemini).metrics());
    const team = { provider: "gemini", credential: "team" };
    expect(find(exp, "oauthmanager_requests_total", team)).toBe(10);
    expect(find(exp, "oauthmanager_successes_total", team)).toBe(8);
    expect(find(exp, "oauthmanager_errors_total", { ...team, kind: "rate_limit" })).toBe(1);
    expect(find(exp, "oauthmanager_errors_total", { ...team, kind: "network" })).toBe(1);
    expect(find(exp, "oauthmanager_errors_total", { ...team, kind: "auth" })).toBeUndefined();
    expect(find(exp, "oauthmanager_tokens_total", { ...team, type: "prompt" })).toBe(1000);
    expect(find(exp, "oauthmanager_tokens_total", { ...team, type: "completion" })).toBe(234);
    for (const state of ["healthy", "cooling", "unhealthy", "needs_reauth"]) {
      const value = find(exp, "oauthmanager_credential_state", { ...team, state });
      expect(value).toBe(state === "cooling" ? 1 : 0);
    }
    for (const [outcome, v] of [
      ["ok", 7],
      ["failed_over", 2],
      ["exhausted", 0],
      ["unavailable", 1],
      ["caller_error", 0],
      ["aborted", 0],
    ] as const) {
      expect(find(exp, "oauthmanager_calls_total", { provider: "gemini", outcome })).toBe(v);
    }
    expect(find(exp, "oauthmanager_tokens_used_total", team)).toBe(1234);
    expect(find(exp, "oauthmanager_unlocked_refreshes_total", { provider: "gemini" })).toBe(3);
    expect(find(exp, "oauthmanager_refreshes_total", team)).toBe(3);
    expect(find(exp, "oauthmanager_refresh_failures_total", team)).toBe(1);
    expect(find(exp, "oauthmanager_credential_healthy", team)).toBe(1);
    expect(find(exp, "oauthmanager_credential_available", team)).toBe(0);
    expect(find(exp, "oauthmanager_credential_in_backoff", team)).toBe(1);
    expect(find(exp, "oauthmanager_token_expiry_timestamp_seconds", team)).toBe(1_800_003_599.5);
    const personal = { provider: "gemini", credential: "personal" };
    expect(find(exp, "oauthmanager_credential_healthy", personal)).toBe(0);
    // No expiry: no series rather than a made-up value.
    expect(find(exp, "oauthmanager_token_expiry_timestamp_seconds", personal)).toBeUndefined();
    // A sample without kinds counts its errors as `other`.
    expect(find(exp, "oauthmanager_errors_total", { ...personal, kind: "other" })).toBe(2);
    expect(find(exp, "oauthmanager_tokens_total", { ...personal, type: "prompt" })).toBeUndefined();
    expect(find(exp, "oauthmanager_requests_total", personal)).toBe(10);
    for (const [outcome, v] of [
      ["sent", 5],
      ["failed", 1],
      ["dropped", 2],
      ["disabled", 0],
    ] as const) {
      expect(
        find(exp, "oauthmanager_webhook_deliveries_total", { provider: "gemini", outcome }),
      ).toBe(v);
    }
  });

  it("renders the histogram cumulative from the snapshot's buckets, +Inf = count", async () => {
    const exp = parseExposition(await createCollector(gemini).metrics());
    const team = { provider: "gemini", credential: "team" };
    const buckets = exp.samples.filter(
      (s) =>
        s.name === "oauthmanager_request_duration_seconds_bucket" && s.labels.credential === "team",
    );
    expect(buckets.map((b) => [b.labels.le, b.value])).toEqual([
      ["0.1", 4],
      ["0.5", 7],
      ["1", 9],
      ["+Inf", 10],
    ]);
    expect(find(exp, "oauthmanager_request_duration_seconds_count", team)).toBe(10);
    expect(find(exp, "oauthmanager_request_duration_seconds_sum", team)).toBe(4.25);
  });

  it("takes the +Inf bucket from count when the snapshot has no overflow entry", async () => {
    const latency = { bucketsSeconds: [0.1, 1], counts: [2, 3], sumSeconds: 9, count: 7 };
    const collector = createCollector(() => ({
      provider: "p",
      credentials: [cred({ latency })],
    }));
    const exp = parseExposition(await collector.metrics());
    const inf = find(exp, "oauthmanager_request_duration_seconds_bucket", { le: "+Inf" });
    expect(inf).toBe(7);
    expect(find(exp, "oauthmanager_request_duration_seconds_count", {})).toBe(7);
  });

  it("rejects a histogram whose counts do not fit its buckets", async () => {
    const latency = { bucketsSeconds: [0.1, 1], counts: [1], sumSeconds: 0, count: 1 };
    const collector = createCollector(() => ({ provider: "p", credentials: [cred({ latency })] }));
    await expect(collector.metrics()).rejects.toThrow(TypeError);
  });

  it("escapes user-chosen credential ids in labels", async () => {
    const id = 'we"ird\\id\nwith newline';
    const exp = parseExposition(
      await createCollector(() => ({
        provider: "p",
        credentials: [cred({ credential: id })],
      })).metrics(),
    );
    expect(find(exp, "oauthmanager_requests_total", { credential: id })).toBe(10);
  });

  it("registers into a user's own Registry next to their metrics", async () => {
    const registry = new Registry();
    const mine = new Counter({ name: "app_jobs_total", help: "jobs", registers: [registry] });
    mine.inc(2);
    registry.setDefaultLabels({ instance: "a" });
    createCollector(gemini).register(registry);
    const exp = parseExposition(await registry.metrics());
    expect(find(exp, "app_jobs_total", {})).toBe(2);
    expect(find(exp, "oauthmanager_requests_total", { credential: "team", instance: "a" })).toBe(
      10,
    );
    // JSON and reset work too, as prom-client's callers expect.
    const json = await registry.getMetricsAsJSON();
    expect(json.map((m) => m.name)).toContain("oauthmanager_request_duration_seconds");
    registry.resetMetrics();
    expect(find(parseExposition(await registry.metrics()), "oauthmanager_requests_total", {})).toBe(
      10,
    );
  });

  it("merges two managers' collectors registered into one registry", async () => {
    const registry = new Registry();
    const a = createCollector(gemini);
    const b = createCollector(() => [
      { provider: "qwen", credentials: [cred({ credential: "q1", requests: 7 })] },
    ]);
    a.register(registry);
    b.register(registry);
    b.register(registry); // twice: no duplicate series
    const exp = parseExposition(await registry.metrics());
    expect(exp.samples.filter((s) => s.name === "oauthmanager_requests_total")).toHaveLength(3);
    expect(find(exp, "oauthmanager_requests_total", { provider: "qwen", credential: "q1" })).toBe(
      7,
    );
    expect(exp.types.size).toBe(METRIC_NAMES.length);

    b.unregister(registry);
    const after = parseExposition(await registry.metrics());
    expect(after.samples.some((s) => s.labels.provider === "qwen")).toBe(false);
    a.unregister(registry);
    expect(await registry.metrics()).toBe("\n");
  });

  it("refuses to shadow a user's metric of the same name", () => {
    const registry = new Registry();
    new Counter({ name: "oauthmanager_requests_total", help: "x", registers: [registry] });
    expect(() => createCollector(gemini).register(registry)).toThrow(/already registered/);
    // Nothing half-registered.
    expect(registry.getSingleMetric("oauthmanager_errors_total")).toBeUndefined();
  });

  it("reads the source once per scrape and drops a removed credential's series", async () => {
    let calls = 0;
    let credentials = [cred({ credential: "x" }), cred({ credential: "y" })];
    const collector = createCollector(() => {
      calls++;
      return { provider: "p", credentials };
    });
    await collector.metrics();
    expect(calls).toBe(1);
    credentials = [cred({ credential: "y" })];
    const exp = parseExposition(await collector.metrics());
    expect(calls).toBe(2);
    expect(exp.samples.some((s) => s.labels.credential === "x")).toBe(false);
    expect(exp.samples.some((s) => s.labels.credential === "y")).toBe(true);
  });

  it("keeps one series per (provider, credential) even if a snapshot repeats one", async () => {
    const exp = parseExposition(
      await createCollector(() => [
        { provider: "p", credentials: [cred({ requests: 1 })] },
        { provider: "p", credentials: [cred({ requests: 2 })] },
      ]).metrics(),
    );
    expect(exp.samples.filter((s) => s.name === "oauthmanager_requests_total")).toEqual([
      {
        name: "oauthmanager_requests_total",
        labels: { provider: "p", credential: "team" },
        value: 1,
      },
    ]);
  });

  it("works in an OpenMetrics registry, scrape after scrape", async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    createCollector(gemini).register(registry);
    for (let i = 0; i < 2; i++) {
      const text = await registry.metrics();
      expect(text).toContain("# TYPE oauthmanager_requests counter");
      expect(text).toContain('oauthmanager_requests_total{provider="gemini",credential="team"} 10');
      expect(text.endsWith("# EOF\n")).toBe(true);
    }
  });
});
