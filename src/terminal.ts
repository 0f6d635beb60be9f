/**
 * Terminal conventions: colour only on a terminal, and never when `NO_COLOR` is set
 * (https://no-color.org); `FORCE_COLOR` turns it on anywhere (as Node and chalk read it).
 * @module
 */

/** Whether to colour output written to a stream that is (or is not) a terminal. */
export function useColor(
  isTTY: boolean | undefined,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  return isTTY === true;
}

/** ANSI SGR colours, or the text unchanged. */
export type Paint = (text: string, color: "green" | "yellow" | "red" | "dim" | "bold") => string;

const CODES = { green: 32, yellow: 33, red: 31, dim: 2, bold: 1 } as const;

/** A painter that colours only when `on`. */
export function painter(on: boolean): Paint {
  return on ? (text, color) => `\u001b[${CODES[color]}m${text}\u001b[0m` : (text) => text;
}

/**
 * Aligned columns; widths are measured on the text before painting, so colour codes never
 * shift a column.
 */
export function columns(
  rows: readonly (readonly { text: string; painted?: string }[])[],
  indent = "  ",
): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.text.length);
    });
  }
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => {
          const pad =
            i === row.length - 1 ? "" : " ".repeat((widths[i] ?? 0) - cell.text.length + 2);
          return (cell.painted ?? cell.text) + pad;
        })
        .join(""),
  );
}

/**
 * A time span for people: the two largest units, as in `42s`, `12m30s`, `5h12m`, `3d4h`.
 */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad2(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

const pad2 = (n: number) => String(n).padStart(2, "0");
