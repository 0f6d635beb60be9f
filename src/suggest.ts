/**
 * "Did you mean" suggestions for misspelt keys and option names.
 * @module
 */

/** The Levenshtein edit distance between two strings (insertions, deletions, substitutions). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // Two rows are enough: each cell depends only on the row above and the cell to its left.
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let curr = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    curr[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      curr[j] = Math.min(prev[j]! + 1, curr[j - 1]! + 1, prev[j - 1]! + cost);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[b.length]!;
}

/**
 * The candidate closest to `input`, or undefined when none is close enough to be a plausible
 * typo (more than a third of the longer string, and at least 2 edits, away).
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const needle = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = levenshtein(needle, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(Math.max(needle.length, best.length) / 3));
  return bestDistance <= limit ? best : undefined;
}

/**
 * Refuses keys that are not options: a misspelt option would otherwise be ignored in silence and
 * its default used instead.
 * @param prefix put before each key in the message (`"backoff."`)
 * @param what what a key names in the message (`"hook"`)
 * @throws {TypeError} naming the first key of `options` not in `known` (and the nearest known one)
 */
export function rejectUnknownKeys(
  options: Record<string, unknown>,
  known: readonly string[],
  prefix: string,
  what = "option",
): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    throw new TypeError(
      near === undefined
        ? `Unknown ${what} \`${prefix}${key}\`; known ${what}s are ${known.join(", ")}`
        : `Unknown ${what} \`${prefix}${key}\`; did you mean \`${prefix}${near}\`?`,
    );
  }
}
