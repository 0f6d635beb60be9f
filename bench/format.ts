/**
 * Plain-text tables and number formatting for the benchmark report.
 * @module
 */

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
export function fixedEach(values: readonly number[], digits = 2): string {
  return values.map((n) => fixed(n, digits)).join(" ");
}

/** Fractions as whole percents, separated by spaces. */
export function percentEach(fractions: readonly number[]): string {
  return fixedEach(
    fractions.map((f) => f * 100),
    0,
  );
}

/** A signed difference: +123 or -45. */
export function signed(n: number): string {
  const r = Math.round(n);
  return r >= 0 ? `+${int(r)}` : `-${int(-r)}`;
}
