/**
 * The demo end to end: the simulated provider, the real gateway in front of it with three
 * credentials, client traffic through the gateway, a view of the pool while it runs, and a
 * summary. Everything listens on 127.0.0.1 and is closed when the demo returns.
 * @module
 */
import { setTimeout as delay } from "node:timers/promises";
import { Gateway } from "../gateway/gateway.js";
import { statusDocument } from "../gateway/status.js";
import {
  DEMO_ACCOUNTS,
  DEMO_PROVIDER,
  DEMO_TOKEN_LIFETIME_MS,
  demoClientKey,
  demoConfig,
} from "./config.js";
import {
  CHAT_PATH,
  SIMULATED_ERROR_TYPES,
  type SimulatedCounts,
  startSimulatedProvider,
} from "./simulated-provider.js";
import { runTraffic, TrafficTally } from "./traffic.js";
import {
  type CredentialRow,
  credentialRows,
  LiveScreen,
  type Paint,
  painter,
  type Totals,
  tableLines,
} from "./view.js";

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** How long the clients send requests. @default 20_000 */
  durationMs?: number;
  /**
   * After the summary, leave the gateway and the simulated provider up (without traffic) until
   * `signal` aborts. @default false
   */
  keep?: boolean;
  /** Writes one line of output. */
  out: (line: string) => void;
  /**
   * The output is a terminal that takes ANSI codes: the table is redrawn in place, in colour.
   * Otherwise a line of figures every {@link PLAIN_EVERY_MS}, and no ANSI code at all. @default false
   */
  live?: boolean;
  /** Ends the run early (its summary is still shown), and ends the wait of `keep`. */
  signal?: AbortSignal;
  /** Client loops sending requests at once. @default 4 */
  clients?: number;
}

/** The figures of a run, as its summary shows them. */
export interface DemoSummary {
  durationMs: number;
  requests: number;
  ok: number;
  streamed: number;
  /** Requests the provider failed on one credential that the next one served. */
  failedOver: number;
  /** Token refreshes the pool made (each rotated the refresh token). */
  refreshes: number;
  /** Rotated-out refresh tokens the provider refused: 0 unless the pool reused one. */
  reusedRefreshTokens: number;
  /** The provider's 429 and 503 answers that never reached a client. */
  absorbed: { 429: number; 503: number };
  /** Client-visible errors by kind. */
  errors: ReadonlyMap<string, number>;
  p95Ms: number;
  /** `http://127.0.0.1:PORT/#key=…`: the status page, with this run's client key. */
  statusPage: string;
}

/** How often the view is redrawn on a terminal. */
const LIVE_EVERY_MS = 250;
/** How often a line of figures is written when the output is not a terminal. */
export const PLAIN_EVERY_MS = 2_000;

/**
 * Runs the demo and writes its view and summary to `options.out`.
 * @throws when something cannot start (a port, the configuration); what started is closed
 * @example
 * const summary = await runDemo({ durationMs: 5_000, out: console.log });
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const durationMs = options.durationMs ?? 20_000;
  const { out, signal } = options;
  const paint = painter(options.live === true);
  const screen = options.live ? new LiveScreen(out) : undefined;
  const sim = await startSimulatedProvider({ tokenLifetimeMs: DEMO_TOKEN_LIFETIME_MS });
  let gateway: Gateway | undefined;
  try {
    const key = demoClientKey();
    gateway = await Gateway.start(demoConfig(sim, key), { host: "127.0.0.1", port: 0 });
    const statusPage = `${gateway.url}/#key=${key}`;
    const clients = options.clients ?? 4;
    out(
      `${paint("oauthmanager demo", "bold")}: the gateway at ${gateway.url} pools ${DEMO_ACCOUNTS.length} OAuth credentials of a simulated provider`,
    );
    out(
      `(${formatSeconds(DEMO_TOKEN_LIFETIME_MS)} tokens, rotating refresh tokens, some 429 and 503 answers, some streams); ${clients} clients for ${formatSeconds(durationMs)}.`,
    );

    const stop = new AbortController();
    const stopRun = () => stop.abort();
    signal?.addEventListener("abort", stopRun, { once: true });
    // Stopped while things were starting: no traffic at all.
    if (signal?.aborted) stopRun();
    const timer = setTimeout(stopRun, durationMs);
    const started = performance.now();
    const tally = new TrafficTally();
    const url = gateway.url;
    const running = gateway;
    // The gateway runs in this process: its status document is read directly, not over HTTP.
    const poll = async () =>
      credentialRows(statusDocument(running.managers, new Date()), DEMO_PROVIDER, Date.now());
    const totals = (rows: readonly CredentialRow[]) => totalsOf(tally, sim.counts, rows);
    let view: Promise<void> = Promise.resolve();
    try {
      const traffic = runTraffic(
        { url: `${url}/${DEMO_PROVIDER}${CHAT_PATH}`, key, clients, signal: stop.signal },
        tally,
      );
      view = showWhileRunning(
        stop.signal,
        async () => {
          const rows = await poll();
          const elapsed = performance.now() - started;
          if (screen) {
            const left = Math.max(0, durationMs - elapsed);
            screen.draw([
              heading(`${formatSeconds(left)} left`, paint),
              ...tableLines(rows, totals(rows), paint),
            ]);
          } else {
            out(progressLine(elapsed, rows, totals(rows)));
          }
        },
        screen ? LIVE_EVERY_MS : PLAIN_EVERY_MS,
      );
      await traffic;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", stopRun);
      stop.abort();
      await view;
    }

    const durationRun = performance.now() - started;
    const rows = await poll();
    const final = tableLines(rows, totals(rows), paint);
    if (screen) {
      screen.draw([heading("done", paint), ...final]);
      screen.end();
    } else {
      for (const line of [heading("done", paint), ...final, ""]) out(line);
    }
    const summary = summarize(tally, sim.counts, rows, durationRun, statusPage);
    for (const line of summaryLines(summary, clients, paint)) out(line);

    if (options.keep && signal?.aborted !== true) {
      out(
        "The gateway and the simulated provider stay up (no more traffic): open the status page. Ctrl-C to stop.",
      );
      if (signal) await aborted(signal);
    }
    return summary;
  } finally {
    screen?.end();
    await gateway?.close();
    await sim.close();
  }
}

/** Calls `draw` now and then until `signal` aborts; a failed draw is skipped, not fatal. */
async function showWhileRunning(
  signal: AbortSignal,
  draw: () => Promise<void>,
  everyMs: number,
): Promise<void> {
  for (;;) {
    await delay(everyMs, undefined, { signal }).catch(() => {});
    if (signal.aborted) return;
    await draw().catch(() => {});
  }
}

/** Client errors that were the provider's own answer, relayed because no credential was left. */
function relayed(tally: TrafficTally, status: number, type: string): number {
  return tally.errors.get(`${status} ${type}`) ?? 0;
}

function absorbedOf(tally: TrafficTally, counts: Readonly<SimulatedCounts>) {
  const t = SIMULATED_ERROR_TYPES;
  return {
    401: counts.unauthorized - relayed(tally, 401, t.unauthorized),
    429: counts.rateLimited - relayed(tally, 429, t.rateLimited),
    503: counts.unavailable - relayed(tally, 503, t.unavailable),
  };
}

function totalsOf(
  tally: TrafficTally,
  counts: Readonly<SimulatedCounts>,
  rows: readonly CredentialRow[],
): Totals {
  const absorbed = absorbedOf(tally, counts);
  return {
    requests: tally.requests,
    ok: tally.ok,
    failedOver: Math.max(0, absorbed[401] + absorbed[429] + absorbed[503]),
    errors: tally.failed,
    refreshes: rows.reduce((n, r) => n + r.refreshes, 0),
  };
}

function summarize(
  tally: TrafficTally,
  counts: Readonly<SimulatedCounts>,
  rows: readonly CredentialRow[],
  durationMs: number,
  statusPage: string,
): DemoSummary {
  const totals = totalsOf(tally, counts, rows);
  const absorbed = absorbedOf(tally, counts);
  return {
    durationMs,
    requests: tally.requests,
    ok: tally.ok,
    streamed: tally.streamed,
    failedOver: totals.failedOver,
    // The provider's count when the gateway could not be read at the end.
    refreshes: rows.length > 0 ? totals.refreshes : counts.tokenGrants,
    reusedRefreshTokens: counts.reusedRefreshTokens,
    absorbed: { 429: absorbed[429], 503: absorbed[503] },
    errors: new Map(tally.errors),
    p95Ms: tally.p95,
    statusPage,
  };
}

/** The summary, one figure a line, aligned so that a person and a script read it alike. */
export function summaryLines(s: DemoSummary, clients: number, paint: Paint): string[] {
  const row = (name: string, value: number, note = "") =>
    `  ${name.padEnd(18)}${String(value).padStart(6)}${note ? `  ${note}` : ""}`;
  const errors = [...s.errors].map(([kind, n]) => `${n} × ${kind}`).join(", ");
  const errorCount = [...s.errors.values()].reduce((sum, n) => sum + n, 0);
  const absorbed = s.absorbed[429] + s.absorbed[503];
  return [
    paint(
      `Summary: ${formatSeconds(s.durationMs)}, ${clients} clients, ${DEMO_ACCOUNTS.length} credentials`,
      "bold",
    ),
    row("requests", s.requests, `(${s.streamed} streamed)`),
    row("successes", s.ok),
    row("failovers", s.failedOver, "(a credential failed, the next one served the request)"),
    row(
      "refreshes",
      s.refreshes,
      `(by the pool, each rotating the refresh token; ${s.reusedRefreshTokens} reused token(s) refused)`,
    ),
    row("429/503 absorbed", absorbed, `(${s.absorbed[429]} × 429, ${s.absorbed[503]} × 503)`),
    row("client errors", errorCount, errors === "" ? "" : `(${errors})`),
    row("p95 latency ms", Math.round(s.p95Ms), "(client side, streams to their last byte)"),
    "",
    `Status page: ${s.statusPage}`,
  ];
}

function heading(note: string, paint: Paint): string {
  return paint(`Pool "${DEMO_PROVIDER}" · ${note}`, "dim");
}

/** One line of figures, for output that is not a terminal. */
function progressLine(elapsedMs: number, rows: readonly CredentialRow[], t: Totals): string {
  const states = rows.map((r) => `${r.id} ${r.state}`).join(", ");
  return `${formatSeconds(elapsedMs).padStart(4)}  requests ${t.requests}, ok ${t.ok}, failed over ${t.failedOver}, errors ${t.errors}, refreshes ${t.refreshes}${states ? ` · ${states}` : ""}`;
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true }),
  );
}
