/**
 * The demo's clients: a few loops sending chat requests through the gateway with `fetch`, some
 * plain JSON and some streamed, each answer read to its last byte. What they saw is kept in a
 * {@link TrafficTally} of fixed size, however long they run.
 * @module
 */
import { setTimeout as delay } from "node:timers/promises";
import {
  latencyQuantile,
  latencyValue,
  PERCENTILE_BUCKETS,
  recordPercentile,
} from "../metrics/latency-histogram.js";

/** Options of {@link runTraffic}. */
export interface TrafficOptions {
  /** The URL requests go to: the gateway's, with the provider and API path. */
  url: string;
  /** The gateway's client key, sent as a Bearer token. */
  key: string;
  /** Requests in flight at once, one per client loop. @default 4 */
  clients?: number;
  /** The share of requests that ask for a stream. @default 0.3 */
  streamShare?: number;
  /** The longest pause of a client between two requests; the pause is uniform from 0. @default 200 */
  maxPauseMs?: number;
  /** Ends the run: each client finishes the request in hand, then stops. */
  signal: AbortSignal;
  /** Numbers in [0, 1). @default Math.random */
  random?: () => number;
}

/** What the clients saw. */
export class TrafficTally {
  requests = 0;
  /** Requests answered 2xx, streams read to their end. */
  ok = 0;
  streamed = 0;
  /**
   * Requests that failed as their client saw them, by what went wrong: the status and the
   * error's `type` (`"503 credentials_unavailable"`), `"network"`, `"stream cut short"`.
   */
  readonly errors = new Map<string, number>();
  /** A fixed-size latency histogram: memory does not grow with the run. */
  readonly #latency = new Uint16Array(PERCENTILE_BUCKETS);
  #minMs = Number.POSITIVE_INFINITY;
  #maxMs = 0;

  /** Failed requests, all kinds together. */
  get failed(): number {
    let n = 0;
    for (const count of this.errors.values()) n += count;
    return n;
  }

  /** The latency (ms, from sending to the last byte) below which 95 % of requests finished. */
  get p95(): number {
    return latencyQuantile(this.#latency, 0, 0.95, this.#minMs, this.#maxMs);
  }

  /** Counts one finished request. */
  record(outcome: { ms: number; stream: boolean; error?: string }): void {
    this.requests++;
    if (outcome.stream) this.streamed++;
    if (outcome.error === undefined) this.ok++;
    else this.errors.set(outcome.error, (this.errors.get(outcome.error) ?? 0) + 1);
    const ms = latencyValue(outcome.ms);
    recordPercentile(this.#latency, 0, ms);
    this.#minMs = Math.min(this.#minMs, ms);
    this.#maxMs = Math.max(this.#maxMs, ms);
  }
}

/**
 * Runs the client loops until `options.signal` aborts, counting into `tally`.
 * @returns once every client has finished its last request
 */
export async function runTraffic(options: TrafficOptions, tally: TrafficTally): Promise<void> {
  const clients = options.clients ?? 4;
  const loops = Array.from({ length: clients }, (_, i) => client(i, options, tally));
  await Promise.all(loops);
}

async function client(n: number, options: TrafficOptions, tally: TrafficTally): Promise<void> {
  const random = options.random ?? Math.random;
  const { signal } = options;
  for (let i = 1; !signal.aborted; i++) {
    const stream = random() < (options.streamShare ?? 0.3);
    const started = performance.now();
    const error = await send(options, stream, `client ${n + 1}, request ${i}`);
    tally.record({ ms: performance.now() - started, stream, ...(error ? { error } : {}) });
    const pause = random() * (options.maxPauseMs ?? 200);
    await delay(pause, undefined, { signal }).catch(() => {});
  }
}

/** Sends one request and reads its answer; what went wrong, if anything. */
async function send(
  options: TrafficOptions,
  stream: boolean,
  content: string,
): Promise<string | undefined> {
  try {
    const res = await fetch(options.url, {
      method: "POST",
      headers: { authorization: `Bearer ${options.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "sim-1", stream, messages: [{ role: "user", content }] }),
    });
    const text = await res.text();
    if (!res.ok) return errorName(res.status, text);
    if (stream && !text.trimEnd().endsWith("data: [DONE]")) return "stream cut short";
    return undefined;
  } catch {
    return "network";
  }
}

/** The status and, when the body is an `{ "error": { "type" } }` document, its type. */
function errorName(status: number, body: string): string {
  try {
    const type = (JSON.parse(body) as { error?: { type?: unknown } }).error?.type;
    if (typeof type === "string" && /^[\w.-]{1,40}$/.test(type)) return `${status} ${type}`;
  } catch {
    // Not JSON: the status says enough.
  }
  return String(status);
}
