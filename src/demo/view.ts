/**
 * What the demo shows: a table of the pool's credentials (from the gateway's `/status`) under the
 * run's totals, redrawn in place on a terminal, and the closing summary. Pure text: colour and
 * cursor movement are ANSI codes added only when the caller says the output is a live terminal.
 * @module
 */

import { isRecord } from "../describe.js";
import { columns as alignedColumns, type Paint } from "../terminal.js";

export { type Paint, painter } from "../terminal.js";

/**
 * Whether the view may redraw itself with ANSI codes: a terminal, not a dumb one, and no
 * `NO_COLOR` (https://no-color.org), which here turns every escape code off, not colour alone.
 */
export function isLiveTerminal(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return isTTY === true && env.TERM !== "dumb";
}

/** One credential as the table shows it. */
export interface CredentialRow {
  id: string;
  state: string;
  /** How much longer it is in backoff; 0 when it is not. */
  backoffMs: number;
  /** How long its access token has left; `undefined` when the gateway does not know. */
  expiresInMs: number | undefined;
  requests: number;
  successRate: number;
  p95Ms: number;
  refreshes: number;
}

/** The run's figures so far. */
export interface Totals {
  requests: number;
  ok: number;
  failedOver: number;
  errors: number;
  refreshes: number;
}

const STATE_COLORS: Record<string, "green" | "yellow" | "red"> = {
  healthy: "green",
  cooling: "yellow",
  unhealthy: "red",
  needs_reauth: "red",
};

/**
 * The credentials of `provider` in a `/status` document, times counted from `now`. Fields that
 * are missing or of the wrong type show as zero or unknown rather than failing the view.
 */
export function credentialRows(status: unknown, provider: string, now: number): CredentialRow[] {
  const providers = field(status, "providers");
  const credentials = field(field(providers, provider), "credentials");
  if (!isRecord(credentials)) return [];
  return Object.values(credentials).map((c): CredentialRow => {
    const backoffUntil = time(field(c, "backoff_until"));
    const expiresAt = time(field(c, "expires_at"));
    const state = field(c, "state");
    return {
      id: String(field(c, "id") ?? "?"),
      state: typeof state === "string" ? state : "?",
      backoffMs: backoffUntil === undefined ? 0 : Math.max(0, backoffUntil - now),
      expiresInMs: expiresAt === undefined ? undefined : expiresAt - now,
      requests: num(field(c, "request_count")),
      successRate: num(field(c, "success_rate")),
      p95Ms: num(field(c, "latency_p95")),
      refreshes: num(field(c, "refresh_count")),
    };
  });
}

const HEADER = ["CREDENTIAL", "STATE", "BACKOFF", "TOKEN EXPIRES", "REQUESTS", "SUCCESS", "p95"];

/** The table of credentials then a line of totals; as many lines for the same credentials. */
export function tableLines(rows: readonly CredentialRow[], totals: Totals, paint: Paint): string[] {
  const cells = rows.map((r) => {
    const expires = expiry(r.expiresInMs);
    return [
      { text: r.id },
      { text: r.state, color: STATE_COLORS[r.state] ?? ("yellow" as const) },
      { text: r.backoffMs > 0 ? seconds(r.backoffMs) : "-" },
      expires,
      { text: String(r.requests) },
      { text: r.requests > 0 ? percent(r.successRate) : "-" },
      { text: r.requests > 0 ? `${Math.round(r.p95Ms)} ms` : "-" },
    ];
  });
  const header = HEADER.map((text) => ({ text, color: "dim" as const }));
  const lines = columns([header, ...cells], paint);
  const errors = String(totals.errors);
  lines.push(
    [
      `  requests ${paint(String(totals.requests), "bold")}`,
      `ok ${totals.ok}`,
      `failed over ${totals.failedOver}`,
      `errors ${totals.errors > 0 ? paint(errors, "red") : errors}`,
      `refreshes ${totals.refreshes}`,
    ].join("   "),
  );
  return lines;
}

/** Cells in aligned columns, each painted in its colour (if any). */
function columns(
  rows: readonly (readonly { text: string; color?: Parameters<Paint>[1] | undefined }[])[],
  paint: Paint,
): string[] {
  return alignedColumns(
    rows.map((row) =>
      row.map((cell) =>
        cell.color
          ? { text: cell.text, painted: paint(cell.text, cell.color) }
          : { text: cell.text },
      ),
    ),
  );
}

function expiry(ms: number | undefined): { text: string; color?: "yellow" | "red" } {
  if (ms === undefined) return { text: "never" };
  if (ms <= 0) return { text: "expired", color: "red" };
  // The refresh buffer is a few seconds: a countdown under it means a refresh is due now.
  return ms < 5_000
    ? { text: `in ${seconds(ms)}`, color: "yellow" }
    : { text: `in ${seconds(ms)}` };
}

const seconds = (ms: number) => `${Math.ceil(ms / 1000)}s`;

const percent = (rate: number) => `${(rate * 100).toFixed(rate >= 0.9995 || rate === 0 ? 0 : 1)}%`;

/**
 * Redraws a block of lines in place on a terminal: the cursor goes back up over the previous
 * block, which is cleared, and stays hidden until {@link LiveScreen.end}.
 */
export class LiveScreen {
  readonly #out: (line: string) => void;
  #height = 0;
  #started = false;

  constructor(out: (line: string) => void) {
    this.#out = out;
  }

  /** Replaces the block drawn last (if any) with `lines`. */
  draw(lines: readonly string[]): void {
    // Hide the cursor; then: up to the first line of the previous block, clear to the end.
    let prefix = this.#started ? "" : "\u001b[?25l";
    if (this.#height > 0) prefix += `\u001b[${this.#height}F\u001b[J`;
    this.#started = true;
    lines.forEach((line, i) => {
      this.#out(i === 0 ? prefix + line : line);
    });
    this.#height = lines.length;
  }

  /**
   * Shows the cursor again, on an empty line below the last block, which stays on screen.
   * Idempotent.
   */
  end(): void {
    if (!this.#started) return;
    this.#started = false;
    this.#height = 0;
    this.#out("\u001b[?25h");
  }
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function time(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}
