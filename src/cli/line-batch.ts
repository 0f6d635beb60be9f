/**
 * Lines written together: one write per burst of lines instead of one per line, for a log that
 * gets a line per request.
 * @module
 */

/** How long a line may wait to be written with the ones after it, ms. */
export const LINE_BATCH_WAIT_MS = 50;
/** Bytes held at most: a burst past this is written at once. */
export const LINE_BATCH_BYTES = 64 * 1024;
/** UTF-8 takes at most 3 bytes per UTF-16 code unit. */
const MAX_BYTES_PER_CHAR = 3;
const NEWLINE = 0x0a;

export interface LineBatch {
  /** Holds `line` (without its newline) until the batch is written. */
  write(line: string): void;
  /** Writes what is held and stops watching for the process's exit. */
  close(): void;
}

/**
 * Lines handed to `out` together (joined by newlines), at most {@link LINE_BATCH_WAIT_MS} after
 * the first of them, or at once when {@link LINE_BATCH_BYTES} are held. A write to a file or pipe
 * is a system call, which a busy gateway would otherwise make for every request.
 *
 * The lines wait as UTF-8 bytes in a buffer outside the JavaScript heap, not as strings. A string
 * that waits up to 50 ms outlives young-generation collections, each of which copies it, and
 * some get promoted to the old generation: held as strings, a busy gateway's request log made
 * its collections copy nearly twice the bytes per request that a bare proxy's do. Each line's
 * string is now garbage as soon as it is written here.
 *
 * The lines held are written when the process exits, however it exits.
 */
export function batchLines(out: (text: string) => void): LineBatch {
  const held = Buffer.allocUnsafe(LINE_BATCH_BYTES);
  let used = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (used === 0) return;
    // Without the last newline: `out` ends the text with its own.
    const text = held.toString("utf8", 0, used - 1);
    used = 0;
    out(text);
  };
  process.once("exit", flush);
  return {
    write(line) {
      // The most the line can take, so that the check costs no encoding of its own.
      const most = line.length * MAX_BYTES_PER_CHAR + 1;
      if (used + most > LINE_BATCH_BYTES) flush();
      if (most > LINE_BATCH_BYTES) {
        // Longer than a whole batch could hold: written alone, after what came before it.
        out(line);
        return;
      }
      used += held.write(line, used);
      held[used++] = NEWLINE;
      if (timer === undefined) {
        // Unref'd: a line waiting is no reason to stay alive; the exit hook writes it.
        timer = setTimeout(flush, LINE_BATCH_WAIT_MS);
        timer.unref();
      }
    },
    close() {
      flush();
      process.off("exit", flush);
    },
  };
}
