/**
 * Prometheus exposition of the managers' metrics, through prom-client. Values are read at scrape
 * time from a snapshot function, so nothing is observed or counted twice and a credential that
 * leaves the pool leaves no series behind.
 *
 * | name | type | labels | value |
 * |---|---|---|---|
 * | `oauthmanager_requests_total` | counter | `provider`, `credential` | requests made with the credential |
 * | `oauthmanager_successes_total` | counter | `provider`, `credential` | requests that succeeded |
 * | `oauthmanager_errors_total` | counter | `provider`, `credential`, `kind` | requests that failed, by kind: `rate_limit`, `auth`, `server`, `network`, `timeout`, `other` |
 * | `oauthmanager_tokens_used_total` | counter | `provider`, `credential` | prompt + completion tokens reported |
 * | `oauthmanager_tokens_total` | counter | `provider`, `credential`, `type` | tokens of operations' `usage` by `type`: `prompt`, `completion` |
 * | `oauthmanager_refreshes_total` | counter | `provider`, `credential` | successful token refreshes |
 * | `oauthmanager_refresh_failures_total` | counter | `provider`, `credential` | failed token refreshes |
 * | `oauthmanager_credential_healthy` | gauge | `provider`, `credential` | 1 when healthy, else 0 |
 * | `oauthmanager_credential_available` | gauge | `provider`, `credential` | 1 when it can be picked now, else 0 |
 * | `oauthmanager_credential_in_backoff` | gauge | `provider`, `credential` | 1 while in backoff, else 0 |
 * | `oauthmanager_credential_state` | gauge (state set) | `provider`, `credential`, `state` | 1 for the credential's state (`healthy`, `cooling`, `unhealthy`, `needs_reauth`), 0 for the others |
 * | `oauthmanager_token_expiry_timestamp_seconds` | gauge | `provider`, `credential` | when the access token expires (Unix seconds); absent for tokens without expiry |
 * | `oauthmanager_calls_total` | counter | `provider`, `outcome` | `executeWithFailover` calls by outcome: `ok`, `failed_over` (succeeded on a later credential), `exhausted`, `unavailable` (no credential could be tried: all cooling, or none configured), `caller_error` (the request's own fault, rethrown), `aborted` |
 * | `oauthmanager_request_duration_seconds` | histogram | `provider`, `credential` | request latency (`_bucket{le}`, `_sum`, `_count`) |
 * | `oauthmanager_webhook_deliveries_total` | counter | `provider`, `outcome` | webhook events by outcome: `sent`, `failed`, `dropped`, `disabled` |
 * | `oauthmanager_scope_cooling_credentials` | gauge | `provider`, `scope` | credentials cooling down in a scope (a 429 under `executeWithFailover`'s `scope`); the 50 most recently cooled scopes with a credential cooling |
 * | `oauthmanager_unlocked_refreshes_total` | counter | `provider` | token refreshes made without the store's lock because the store could not lock at all (down, or forbidden): other processes may have refreshed the same credential at the same moment |
 * | `oauthmanager_budget_tokens` | gauge | `provider`, `credential`, `window` | tokens counted in the current usage-budget window (`hour`, `day`, `month`, UTC); with budgets only |
 * | `oauthmanager_budget_cost` | gauge | `provider`, `credential`, `window` | their cost by the configured prices |
 * | `oauthmanager_budget_share` | gauge | `provider`, `credential`, `window` | the share of the window's limit used (1 = used up) |
 * | `oauthmanager_provider_budget_tokens` | gauge | `provider`, `window` | the same for the whole pool, with a provider budget |
 * | `oauthmanager_provider_budget_cost` | gauge | `provider`, `window` | |
 * | `oauthmanager_provider_budget_share` | gauge | `provider`, `window` | |
 *
 * Labels hold the provider name and the credential id (user-chosen, bounded, never a token).
 * A credential's series disappear from the next scrape once it is no longer in the snapshot.
 * @module
 */
import type { Metric, RegistryContentType } from "prom-client";
import { Registry } from "prom-client";
import type { FailureKind } from "../events.js";
import type { BudgetUsage, CredentialState } from "../types.js";

/** What a failed request is counted as: its failure kind, or `other` when none was given. */
export type ErrorKind = FailureKind | "other";
/** Every {@link ErrorKind}, in exposition order. */
export const ERROR_KINDS: readonly ErrorKind[] = [
  "rate_limit",
  "auth",
  "server",
  "network",
  "timeout",
  "other",
];
/** How an `executeWithFailover` call ended. */
export type CallOutcome =
  | "ok"
  | "failed_over"
  | "exhausted"
  | "unavailable"
  | "caller_error"
  | "aborted";
/** Every {@link CallOutcome}, in exposition order. */
export const CALL_OUTCOMES: readonly CallOutcome[] = [
  "ok",
  "failed_over",
  "exhausted",
  "unavailable",
  "caller_error",
  "aborted",
];
const STATES: readonly CredentialState[] = ["healthy", "cooling", "unhealthy", "needs_reauth"];

/** Latency histogram of one credential, as fixed buckets. */
export interface LatencySnapshot {
  /** Upper bounds in seconds, ascending, without `+Inf`. */
  bucketsSeconds: readonly number[];
  /**
   * Observations per bucket, NOT cumulative: `counts[i]` fell in `(bucketsSeconds[i-1],
   * bucketsSeconds[i]]`. The last entry, one past the bounds, is the `+Inf` bucket; when it is
   * missing, `count` minus the others is used.
   */
  counts: readonly number[];
  sumSeconds: number;
  count: number;
}

/** One credential's figures at scrape time. */
export interface CredentialSample {
  /** The credential id: a label value, never a token. */
  credential: string;
  requests: number;
  successes: number;
  errors: number;
  /** Failed requests by kind; kinds left out count 0. */
  errorsByKind?: Partial<Record<ErrorKind, number>> | undefined;
  tokensUsed: number;
  promptTokens?: number | undefined;
  completionTokens?: number | undefined;
  refreshes: number;
  refreshFailures: number;
  healthy: boolean;
  available: boolean;
  inBackoff: boolean;
  state?: CredentialState | undefined;
  /** When the access token expires, Unix seconds; absent for tokens that never expire. */
  expiresAtSeconds?: number | undefined;
  latency: LatencySnapshot;
  /** Its usage budget per window, when budgets are configured. */
  budget?: readonly BudgetUsage[] | undefined;
}

/** Credentials cooling down in one scope at scrape time. */
export interface ScopeSample {
  /** The caller's scope name (a model, say): a label value, bounded in number by the manager. */
  scope: string;
  cooling: number;
}

/** One manager's figures at scrape time. */
export interface ProviderSample {
  provider: string;
  /** Labels added to every series of this sample (a replica's name, say). */
  labels?: Readonly<Record<string, string>> | undefined;
  credentials: CredentialSample[];
  /** `executeWithFailover` calls by outcome. */
  calls?: Partial<Record<CallOutcome, number>> | undefined;
  webhook?: { sent: number; failed: number; dropped: number; disabled?: number };
  /** Token refreshes made without the store's lock because the store could not lock at all. */
  unlockedRefreshes?: number | undefined;
  /** Scopes with credentials cooling down in them. */
  scopes?: ScopeSample[] | undefined;
  /** The pool's usage budget per window, when a provider budget is configured. */
  budget?: readonly BudgetUsage[] | undefined;
}

/** What {@link createCollector} reads on every scrape. */
export type SampleSource = () => ProviderSample | ProviderSample[];

/** Any prom-client registry, Prometheus or OpenMetrics. */
export type AnyRegistry = Registry<RegistryContentType>;

/** Exposes snapshots through prom-client. */
export interface PrometheusCollector {
  /**
   * Adds this collector's series to `registry` (your own, or prom-client's `register`). Several
   * collectors (one per manager) may be registered into one registry: they share the metric
   * objects and their series are merged. Registering twice is a no-op.
   * @throws {Error} when another metric of the same name is already in `registry`.
   */
  register(registry: AnyRegistry): void;
  /** Removes this collector's series from `registry`; the metrics go once no collector is left. */
  unregister(registry: AnyRegistry): void;
  /** The exposition text (Prometheus 0.0.4) of this collector alone. */
  metrics(): Promise<string>;
  /** The `Content-Type` for {@link metrics}' text. */
  readonly contentType: string;
}

type Labels = Record<string, string | number>;
/** One series as prom-client's registry prints it. */
export interface Value {
  value: number;
  labels: Labels;
  metricName?: string;
}
type Kind = "counter" | "gauge" | "histogram";

interface Definition {
  name: string;
  help: string;
  kind: Kind;
  labelNames: readonly string[];
  values(samples: readonly ProviderSample[]): Value[];
}

const PREFIX = "oauthmanager_";

function perCredential(
  name: string,
  kind: "counter" | "gauge",
  help: string,
  read: (c: CredentialSample) => number | undefined,
): Definition {
  return {
    name: `${PREFIX}${name}`,
    help,
    kind,
    labelNames: ["provider", "credential"],
    values(samples) {
      const out: Value[] = [];
      forEachCredential(samples, (provider, c) => {
        const v = read(c);
        if (v === undefined || !Number.isFinite(v)) return;
        out.push({ value: v, labels: { provider, credential: c.credential } });
      });
      return out;
    },
  };
}

const bool = (b: boolean) => (b ? 1 : 0);

const DEFINITIONS: readonly Definition[] = [
  perCredential(
    "requests_total",
    "counter",
    "Requests made with the credential.",
    (c) => c.requests,
  ),
  perCredential("successes_total", "counter", "Requests that succeeded.", (c) => c.successes),
  {
    name: `${PREFIX}errors_total`,
    help: "Requests that failed, by kind.",
    kind: "counter",
    labelNames: ["provider", "credential", "kind"],
    values(samples) {
      const out: Value[] = [];
      forEachCredential(samples, (provider, c) => {
        const byKind = c.errorsByKind ?? { other: c.errors };
        for (const kind of ERROR_KINDS) {
          const value = finite(byKind[kind]);
          if (value > 0) out.push({ value, labels: { provider, credential: c.credential, kind } });
        }
      });
      return out;
    },
  },
  perCredential(
    "tokens_used_total",
    "counter",
    "Prompt plus completion tokens reported by operations.",
    (c) => c.tokensUsed,
  ),
  {
    name: `${PREFIX}tokens_total`,
    help: "Tokens of operations' usage, by type.",
    kind: "counter",
    labelNames: ["provider", "credential", "type"],
    values(samples) {
      const out: Value[] = [];
      forEachCredential(samples, (provider, c) => {
        const credential = c.credential;
        if (c.promptTokens === undefined && c.completionTokens === undefined) return;
        out.push(
          { value: finite(c.promptTokens), labels: { provider, credential, type: "prompt" } },
          {
            value: finite(c.completionTokens),
            labels: { provider, credential, type: "completion" },
          },
        );
      });
      return out;
    },
  },
  perCredential("refreshes_total", "counter", "Successful token refreshes.", (c) => c.refreshes),
  perCredential(
    "refresh_failures_total",
    "counter",
    "Failed token refreshes.",
    (c) => c.refreshFailures,
  ),
  perCredential("credential_healthy", "gauge", "1 when the credential is healthy.", (c) =>
    bool(c.healthy),
  ),
  perCredential("credential_available", "gauge", "1 when the credential can be picked now.", (c) =>
    bool(c.available),
  ),
  perCredential("credential_in_backoff", "gauge", "1 while the credential is in backoff.", (c) =>
    bool(c.inBackoff),
  ),
  {
    name: `${PREFIX}credential_state`,
    help: "The credential's state: 1 for the current one, 0 for the others.",
    kind: "gauge",
    labelNames: ["provider", "credential", "state"],
    values(samples) {
      const out: Value[] = [];
      forEachCredential(samples, (provider, c) => {
        if (c.state === undefined) return;
        for (const state of STATES) {
          out.push({
            value: bool(c.state === state),
            labels: { provider, credential: c.credential, state },
          });
        }
      });
      return out;
    },
  },
  perCredential(
    "token_expiry_timestamp_seconds",
    "gauge",
    "When the access token expires, in Unix seconds.",
    (c) => c.expiresAtSeconds,
  ),
  {
    name: `${PREFIX}calls_total`,
    help: "executeWithFailover calls by outcome.",
    kind: "counter",
    labelNames: ["provider", "outcome"],
    values: (samples) => perProvider(samples, CALL_OUTCOMES, (s) => s.calls),
  },
  {
    name: `${PREFIX}request_duration_seconds`,
    help: "Request latency in seconds.",
    kind: "histogram",
    labelNames: ["provider", "credential"],
    values(samples) {
      const out: Value[] = [];
      forEachCredential(samples, (provider, c) => histogramValues(out, provider, c));
      return out;
    },
  },
  {
    name: `${PREFIX}webhook_deliveries_total`,
    help: "Webhook events by outcome.",
    kind: "counter",
    labelNames: ["provider", "outcome"],
    values: (samples) =>
      perProvider(samples, ["sent", "failed", "dropped", "disabled"], (s) => s.webhook),
  },
  {
    name: `${PREFIX}scope_cooling_credentials`,
    help: "Credentials cooling down in a scope (a rate limit seen under it).",
    kind: "gauge",
    labelNames: ["provider", "scope"],
    values(samples) {
      const out: Value[] = [];
      for (const s of samples) {
        for (const { scope, cooling } of s.scopes ?? []) {
          out.push({ value: finite(cooling), labels: { provider: s.provider, scope } });
        }
      }
      return out;
    },
  },
  {
    name: `${PREFIX}unlocked_refreshes_total`,
    help: "Token refreshes made without the store's lock because the store could not lock.",
    kind: "counter",
    labelNames: ["provider"],
    values(samples) {
      // Summed per provider, like calls_total: one series per provider however many managers.
      const totals = new Map<string, number>();
      for (const s of samples) {
        if (s.unlockedRefreshes === undefined) continue;
        totals.set(s.provider, (totals.get(s.provider) ?? 0) + finite(s.unlockedRefreshes));
      }
      return [...totals].map(([provider, value]) => ({ value, labels: { provider } }));
    },
  },
  ...budgetDefinitions(),
];

/** The usage-budget gauges, per credential and per pool, one series per window. */
function budgetDefinitions(): Definition[] {
  const fields = [
    ["tokens", "Tokens counted in the current usage-budget window.", (u: BudgetUsage) => u.tokens],
    ["cost", "Cost counted in the current usage-budget window.", (u: BudgetUsage) => u.cost],
    ["share", "Share of the usage-budget window's limit used.", (u: BudgetUsage) => u.share],
  ] as const;
  const out: Definition[] = [];
  for (const [field, help, read] of fields) {
    out.push({
      name: `${PREFIX}budget_${field}`,
      help,
      kind: "gauge",
      labelNames: ["provider", "credential", "window"],
      values(samples) {
        const values: Value[] = [];
        forEachCredential(samples, (provider, c) => {
          for (const u of c.budget ?? []) {
            values.push({
              value: finite(read(u)),
              labels: { provider, credential: c.credential, window: u.window },
            });
          }
        });
        return values;
      },
    });
  }
  for (const [field, help, read] of fields) {
    out.push({
      name: `${PREFIX}provider_budget_${field}`,
      help: `${help} The whole pool.`,
      kind: "gauge",
      labelNames: ["provider", "window"],
      values(samples) {
        // One series per (provider, window): a provider in two managers keeps the first.
        const seen = new Set<string>();
        const values: Value[] = [];
        for (const s of samples) {
          if (seen.has(s.provider) || !s.budget) continue;
          seen.add(s.provider);
          for (const u of s.budget) {
            values.push({
              value: finite(read(u)),
              labels: { provider: s.provider, window: u.window },
            });
          }
        }
        return values;
      },
    });
  }
  return out;
}

/**
 * One series per (provider, outcome). Two managers of one provider in one registry are summed,
 * since a duplicate series would make the exposition invalid.
 */
function perProvider<K extends string>(
  samples: readonly ProviderSample[],
  outcomes: readonly K[],
  read: (s: ProviderSample) => Partial<Record<K, number>> | undefined,
): Value[] {
  const totals = new Map<string, Map<K, number>>();
  for (const s of samples) {
    const counts = read(s);
    if (!counts) continue;
    const sum = totals.get(s.provider) ?? new Map<K, number>();
    for (const outcome of outcomes) {
      // Every outcome gets a series from the start: a counter that appears late hides its rate.
      sum.set(outcome, (sum.get(outcome) ?? 0) + finite(counts[outcome]));
    }
    totals.set(s.provider, sum);
  }
  const out: Value[] = [];
  for (const [provider, sum] of totals) {
    for (const [outcome, value] of sum) out.push({ value, labels: { provider, outcome } });
  }
  return out;
}

/** The metric names this module exposes, in exposition order. */
export const METRIC_NAMES: readonly string[] = DEFINITIONS.map((d) => d.name);

function histogramValues(out: Value[], provider: string, c: CredentialSample): void {
  const { bucketsSeconds: bounds, counts, sumSeconds, count } = c.latency;
  if (counts.length !== bounds.length && counts.length !== bounds.length + 1) {
    throw new TypeError(
      `Expected ${bounds.length} or ${bounds.length + 1} latency counts for credential ${c.credential}, got ${counts.length}`,
    );
  }
  histogramSeries(
    out,
    `${PREFIX}request_duration_seconds`,
    { provider, credential: c.credential },
    bounds,
    counts,
    sumSeconds,
    count,
  );
}

/**
 * The `_bucket{le}` (cumulative), `_sum` and `_count` series of one histogram from its counts
 * per bucket: one per bound in `bounds`, then optionally the overflow past the last bound (else
 * taken as `count` minus the rest).
 */
export function histogramSeries(
  out: Value[],
  name: string,
  labels: Labels,
  bounds: readonly number[],
  counts: ArrayLike<number>,
  sumSeconds: number,
  count: number,
): void {
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += finite(counts[i]);
    out.push({
      metricName: `${name}_bucket`,
      labels: { ...labels, le: bounds[i]! },
      value: cumulative,
    });
  }
  const overflow =
    counts.length > bounds.length
      ? finite(counts[bounds.length])
      : Math.max(0, finite(count) - cumulative);
  const total = cumulative + overflow;
  out.push(
    { metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: total },
    { metricName: `${name}_sum`, labels, value: finite(sumSeconds) },
    // The +Inf bucket and _count must agree, whatever the snapshot says.
    { metricName: `${name}_count`, labels, value: total },
  );
}

function finite(v: number | undefined): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function forEachCredential(
  samples: readonly ProviderSample[],
  fn: (provider: string, c: CredentialSample) => void,
): void {
  // One series per (provider, credential): a duplicate would make the exposition invalid.
  const seen = new Set<string>();
  for (const s of samples) {
    for (const c of s.credentials) {
      const key = `${s.provider}\u0000${c.credential}`;
      if (seen.has(key)) continue;
      seen.add(key);
      fn(s.provider, c);
    }
  }
}

/** The sources registered in one registry, read once per scrape. */
class Hub {
  readonly sources = new Set<SampleSource>();
  readonly metrics: ScrapeMetric[];
  #cache: ProviderSample[] | undefined;

  constructor() {
    this.metrics = DEFINITIONS.map((d) => new ScrapeMetric(d, this));
  }

  /**
   * The samples of every source. A registry asks all its metrics in one synchronous pass, so one
   * snapshot serves the whole scrape and the series agree with each other.
   */
  snapshot(): readonly ProviderSample[] {
    if (this.#cache) return this.#cache;
    const all: ProviderSample[] = [];
    for (const source of this.sources) {
      const got = source();
      if (Array.isArray(got)) all.push(...got);
      else all.push(got);
    }
    this.#cache = all;
    queueMicrotask(() => {
      this.#cache = undefined;
    });
    return all;
  }
}

/**
 * A prom-client metric whose values come from the snapshot: it implements what `Registry` calls
 * (`name`, `help`, `type`, `aggregator`, `get()`, `reset()`).
 */
class ScrapeMetric {
  /** Mutable: an OpenMetrics registry strips `_total` from counter names. */
  name: string;
  /** The name the metric is registered under, whatever `name` becomes. */
  readonly key: string;
  readonly help: string;
  readonly type: Kind;
  readonly aggregator: "sum" | "first";
  readonly labelNames: readonly string[];
  readonly #def: Definition;
  readonly #hub: Hub;

  constructor(def: Definition, hub: Hub) {
    this.name = def.name;
    this.key = def.name;
    this.help = def.help;
    this.type = def.kind;
    this.aggregator = def.kind === "gauge" ? "first" : "sum";
    this.labelNames = def.labelNames;
    this.#def = def;
    this.#hub = hub;
  }

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: withConstantLabels(this.#def, this.#hub.snapshot()),
    };
  }

  /** Values live in the managers; `registry.resetMetrics()` has nothing to reset here. */
  reset(): void {}
}

/**
 * The definition's values, each sample's own labels added. Samples are grouped by those labels
 * first, so that series merged across samples (one provider in two managers) are only merged
 * within one label set, and two label sets never produce the same series.
 */
function withConstantLabels(def: Definition, samples: readonly ProviderSample[]): Value[] {
  if (samples.every((s) => s.labels === undefined || Object.keys(s.labels).length === 0)) {
    return def.values(samples);
  }
  const groups = new Map<
    string,
    { labels: Readonly<Record<string, string>>; samples: ProviderSample[] }
  >();
  for (const sample of samples) {
    const labels = sample.labels ?? {};
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    const group = groups.get(key) ?? { labels, samples: [] };
    group.samples.push(sample);
    groups.set(key, group);
  }
  const out: Value[] = [];
  for (const { labels, samples: group } of groups.values()) {
    for (const value of def.values(group)) {
      out.push({ ...value, labels: { ...labels, ...value.labels } });
    }
  }
  return out;
}

const hubs = new WeakMap<AnyRegistry, Hub>();

/**
 * A Prometheus collector over one or more managers' snapshots, read on every scrape.
 *
 * @param source Returns the current samples; called once per scrape. A throw fails the scrape.
 * @example
 * const collector = createCollector(() => [geminiSample(), qwenSample()]);
 * collector.register(myRegistry);
 * res.setHeader("Content-Type", myRegistry.contentType).end(await myRegistry.metrics());
 */
export function createCollector(source: SampleSource): PrometheusCollector {
  if (typeof source !== "function") {
    throw new TypeError(`Expected \`source\` to be a function, got ${typeof source}`);
  }
  let own: Registry | undefined;
  const collector: PrometheusCollector = {
    register(registry) {
      const hub = hubs.get(registry) ?? new Hub();
      for (const m of hub.metrics) {
        const existing = registry.getSingleMetric(m.key);
        if (existing !== undefined && (existing as unknown) !== m) {
          throw new Error(`A metric named ${m.key} is already registered in this registry`);
        }
      }
      for (const m of hub.metrics) {
        if (registry.getSingleMetric(m.key) === undefined) {
          // registerMetric keys by `name`, which an earlier OpenMetrics scrape may have shortened.
          m.name = m.key;
          registry.registerMetric(m as unknown as Metric);
        }
      }
      hubs.set(registry, hub);
      hub.sources.add(source);
    },
    unregister(registry) {
      const hub = hubs.get(registry);
      if (!hub) return;
      hub.sources.delete(source);
      if (hub.sources.size > 0) return;
      for (const m of hub.metrics) {
        if ((registry.getSingleMetric(m.key) as unknown) === m) registry.removeSingleMetric(m.key);
      }
      hubs.delete(registry);
    },
    async metrics() {
      if (!own) {
        own = new Registry();
        collector.register(own);
      }
      return own.metrics();
    },
    contentType: Registry.PROMETHEUS_CONTENT_TYPE,
  };
  return collector;
}
