/**
 * Plain-text tables and number formatting for the benchmark report.
 * @module
 */
import type { PairedFigures } from "./gateway.js";

/** Prints a titled table with right-aligned columns (numbers line up). */
export function printTable(title: string, header: readonly string[], rows: readonly string[][]) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}

/** An integer with thousands separators: 10,000. */
export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A figure with `digits` decimals. */
export function fixed(n: number, digits = 1): string {
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Figures with `digits` decimals, separated by spaces. */
function fixedEach(values: readonly number[], digits = 2): string {
  return values.map((n) => fixed(n, digits)).join(" ");
}

/** Fractions as whole percents, separated by spaces. */
function percentEach(fractions: readonly number[]): string {
  return fixedEach(
    fractions.map((f) => f * 100),
    0,
  );
}

/** Section 9's figures of each round: at once (with the CPU's use), then in turns. */
export function gatewayRounds(f: PairedFigures): string {
  return [
    `ratio of each round at once ${fixedEach(f.sharedRatios)}`,
    `CPU busy ${percentEach(f.sharedCpuBusy)} %, the gateway's part ${percentEach(f.gatewayCpuShare)} %`,
    `ratio of each round in turns ${fixedEach(f.turnRatios)}`,
  ].join("; ");
}

/** A signed difference: +123 or -45. */
export function signed(n: number): string {
  const r = Math.round(n);
  return r >= 0 ? `+${int(r)}` : `-${int(-r)}`;
}
