/**
 * KeyManager: plain API keys on the same pool as OAuth credentials. Each key is a credential
 * whose token never expires; keys show up in metrics and exports as `key-1`, `key-2`, … and never
 * by value.
 * @module
 */
import { describe } from "../describe.js";
import { ConfigError, type ConfigIssue } from "../errors.js";
import type { ManagerEvents } from "../events.js";
import type { PrometheusCollector } from "../metrics/prometheus.js";
import type {
  CredentialHealthInfo,
  CredentialMetrics,
  ExecuteOptions,
  ExecuteResult,
  HealthSummary,
  MonitoringConfig,
  Operation,
  OperationResult,
  PrometheusMetrics,
  WebhookEvent,
} from "../types.js";
import { OAuthKeyManager, servesApiKeys } from "./oauth-key-manager.js";
import { checkKeyManagerOptions, type KeyManagerOptions, type ManagerOptions } from "./options.js";

/** The caller's work, run with one API key. */
export type KeyOperation<T> = (key: string, signal: AbortSignal) => Promise<OperationResult<T>>;

/**
 * A pool of API keys for one provider, with the same selection, health, backoff, failover,
 * metrics and exports as {@link OAuthKeyManager}.
 *
 * @example
 * const keys = new KeyManager("openai", [process.env.KEY_A!, process.env.KEY_B!]);
 * const { result } = await keys.executeWithFailover(async (key, signal) => ({ result: await call(key, signal) }));
 */
export class KeyManager {
  readonly providerName: string;
  readonly #core: OAuthKeyManager;
  /** key value → its id; only held in memory, never exported. */
  readonly #idByKey = new Map<string, string>();

  /**
   * @throws {ConfigError} for an empty or duplicate key (named by position, never by value)
   */
  constructor(providerName: string, apiKeys: readonly string[], options: KeyManagerOptions = {}) {
    if (!Array.isArray(apiKeys)) {
      throw new TypeError(
        `Expected \`apiKeys\` to be an array of strings, got ${describe(apiKeys)}`,
      );
    }
    const issues: ConfigIssue[] = [];
    const firstAt = new Map<string, number>();
    apiKeys.forEach((key, i) => {
      const first = firstAt.get(key);
      if (typeof key !== "string" || key.trim() === "") {
        issues.push({ path: `apiKeys[${i}]`, message: "must be a non-empty string" });
      } else if (first !== undefined) {
        issues.push({ path: `apiKeys[${i}]`, message: `duplicates apiKeys[${first}]` });
      } else {
        firstAt.set(key, i);
        this.#idByKey.set(key, `key-${i + 1}`);
      }
    });
    if (issues.length > 0) throw new ConfigError(issues);
    checkKeyManagerOptions(options);
    this.providerName = providerName;
    this.#core = new OAuthKeyManager(
      providerName,
      [...this.#idByKey].map(([key, id]) => ({ id, accessToken: key })),
      undefined,
      // The core hands the probe what it hands operations: the key itself.
      options as unknown as ManagerOptions,
    );
    servesApiKeys(this.#core);
  }

  /** Runs `op` with the next available key, failing over like {@link OAuthKeyManager.executeWithFailover}. */
  executeWithFailover<T>(op: KeyOperation<T>, opts?: ExecuteOptions): Promise<ExecuteResult<T>> {
    // The core hands operations the key itself: no wrapper per call.
    return this.#core.executeWithFailover(op as unknown as Operation<T>, opts);
  }

  /** The next available key (round-robin by default). */
  async getNextKey(): Promise<string> {
    return (await this.#core.getNextCredential()).accessToken;
  }

  /** Records a success of `key` from outside: clears its failures and backoff. Unknown keys are ignored. */
  reportSuccess(key: string): void {
    const id = this.#idByKey.get(key);
    if (id) this.#core.reportSuccess(id);
  }

  /**
   * Records a failure of `key` from outside: backoff as for a failed request; a Retry-After on
   * `error` sets the cooldown. Unknown keys are ignored.
   */
  reportFailure(key: string, error?: unknown): void {
    const id = this.#idByKey.get(key);
    if (id) this.#core.reportFailure(id, error);
  }

  /** The id (`key-N`) under which `key` appears in metrics and exports. */
  idOf(key: string): string | undefined {
    return this.#idByKey.get(key);
  }

  /**
   * Records one request's figures for the key with id `id` (`key-N`).
   * @param tokensUsed prompt + completion tokens
   */
  recordRequest(id: string, tokensUsed: number, latencyMs: number, success: boolean): void {
    this.#core.recordRequest(id, tokensUsed, latencyMs, success);
  }

  /** A snapshot of the usage figures of key `id` (`key-N`), or undefined for an unknown id. */
  getCredentialMetrics(id: string): CredentialMetrics | undefined {
    return this.#core.getCredentialMetrics(id);
  }

  /** Snapshots of every key's usage figures, by id (`key-N`). */
  getAllMetrics(): Record<string, CredentialMetrics> {
    return this.#core.getAllMetrics();
  }

  /** The health and usage of key `id` (`key-N`), or undefined for an unknown id. */
  getCredentialHealthInfo(id: string): CredentialHealthInfo | undefined {
    return this.#core.getCredentialHealthInfo(id);
  }

  /** Every key's health, by id, with totals over the pool. */
  getHealthSummary(): HealthSummary {
    return this.#core.getHealthSummary();
  }

  /** Per-key totals (requests, successes, errors, tokens), keyed by id. */
  exportPrometheus(): PrometheusMetrics {
    return this.#core.exportPrometheus();
  }

  /** Prometheus text exposition of every key's counters, health gauges and latency histogram. */
  exportPrometheusText(): Promise<string> {
    return this.#core.exportPrometheusText();
  }

  /** The health summary as JSON: snake_case keys, RFC 3339 times, latency in ms. */
  exportJSON(): string {
    return this.#core.exportJSON();
  }

  /** The prom-client collector behind {@link exportPrometheusText}, to register into your own `Registry`. */
  metricsCollector(): PrometheusCollector {
    return this.#core.metricsCollector();
  }

  /**
   * Turns alerts and webhooks on; `undefined` sets `defaultMonitoringConfig()`.
   * @throws {ConfigError} for a webhook URL that is not http(s), a bad secret or threshold
   */
  setMonitoringConfig(config?: MonitoringConfig): void {
    this.#core.setMonitoringConfig(config);
  }

  /** A copy of the monitoring configuration; `defaultMonitoringConfig()` while monitoring is off. */
  getMonitoringConfig(): MonitoringConfig {
    return this.#core.getMonitoringConfig();
  }

  /**
   * Evaluates the alert conditions now and sends their webhooks in the background.
   * @returns the alerts raised, without those suppressed by the cooldown
   */
  checkAlerts(): WebhookEvent[] {
    return this.#core.checkAlerts();
  }

  /** Starts the background alert checks (keys never need refreshing). */
  start(): void {
    this.#core.start();
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends keyof ManagerEvents>(
    event: K,
    listener: (payload: ManagerEvents[K]) => void,
  ): () => void {
    return this.#core.on(event, listener);
  }

  /** Stops background work, waits for requests in flight and flushes webhooks. Idempotent. */
  close(): Promise<void> {
    return this.#core.close();
  }

  /** {@link close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
