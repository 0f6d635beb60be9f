/**
 * The status report as tables: per provider a summary line, then per credential its state,
 * backoff, token expiry countdown, requests, success rate and p95 latency.
 * @module
 */

import { columns, type Paint, span } from "../terminal.js";
import type { StatusReport, WireCredential, WireProvider } from "./status-source.js";

// "p95" in lower case, as latency percentiles are usually written.
const HEADER = ["CREDENTIAL", "STATE", "BACKOFF", "EXPIRES", "REQUESTS", "SUCCESS", "p95"];

const STATE_COLORS: Record<string, "green" | "yellow" | "red"> = {
  healthy: "green",
  cooling: "yellow",
  unhealthy: "red",
  needs_reauth: "red",
};

/** The report as lines of text, times counted from `now`. */
export function renderReport(
  report: StatusReport,
  now: number,
  paint: Paint,
  source: string,
): string[] {
  const lines: string[] = [];
  const names = Object.keys(report.providers);
  if (names.length === 0) lines.push("no providers");
  for (const name of names) {
    const provider = report.providers[name] as WireProvider;
    if (lines.length > 0) lines.push("");
    lines.push(`${paint(name, "bold")}  ${providerLine(provider)}`);
    const creds = Object.values(provider.credentials);
    if (creds.length === 0) {
      lines.push("  no credentials");
      continue;
    }
    lines.push(
      ...columns([
        HEADER.map((text) => ({ text, painted: paint(text, "dim") })),
        ...creds.map((cred) => credentialRow(cred, now, paint)),
      ]),
    );
  }
  lines.push("", paint(source, "dim"));
  return lines;
}

function providerLine(p: WireProvider): string {
  const total = num(p.total_credentials) ?? Object.keys(p.credentials).length;
  const parts = [`${total} credential${total === 1 ? "" : "s"}`];
  const healthy = num(p.healthy_credentials);
  if (healthy !== undefined) parts.push(`${healthy} healthy`);
  const backoff = num(p.credentials_in_backoff);
  if (backoff) parts.push(`${backoff} in backoff`);
  const requests = num(p.total_requests);
  if (requests !== undefined) parts.push(`${requests} requests`);
  const rate = num(p.success_rate);
  if (requests && rate !== undefined) parts.push(`${percent(rate)} success`);
  return parts.join(", ");
}

function credentialRow(c: WireCredential, now: number, paint: Paint) {
  const state = typeof c.state === "string" ? c.state : c.is_healthy === false ? "unhealthy" : "?";
  const requests = num(c.request_count) ?? 0;
  const rate = num(c.success_rate);
  const p95 = num(c.latency_p95);
  const expires = expiry(c.expires_at, now);
  const backoffUntil = time(c.backoff_until);
  const cells = [
    { text: typeof c.id === "string" ? c.id : "?" },
    { text: state, painted: paint(state, STATE_COLORS[state] ?? "yellow") },
    {
      text: backoffUntil !== undefined && backoffUntil > now ? span(backoffUntil - now) : "-",
    },
    {
      text: expires.text,
      ...(expires.color ? { painted: paint(expires.text, expires.color) } : {}),
    },
    { text: String(requests) },
    { text: requests > 0 && rate !== undefined ? percent(rate) : "-" },
    { text: requests > 0 && p95 !== undefined ? `${Math.round(p95)} ms` : "-" },
  ];
  return cells;
}

/** The token's expiry as a countdown; red once expired, yellow within 5 minutes. */
function expiry(value: unknown, now: number): { text: string; color?: "yellow" | "red" } {
  const at = time(value);
  if (at === undefined) return { text: "never" };
  if (at <= now) return { text: `expired ${span(now - at)} ago`, color: "red" };
  const left = at - now;
  return left < 5 * 60_000
    ? { text: `in ${span(left)}`, color: "yellow" }
    : { text: `in ${span(left)}` };
}

const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) ? v : undefined;

function time(v: unknown): number | undefined {
  if (typeof v !== "string") return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

const percent = (rate: number) => `${(rate * 100).toFixed(rate >= 0.9995 || rate === 0 ? 0 : 1)}%`;
