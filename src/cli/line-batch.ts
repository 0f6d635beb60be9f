/**
 * Lines written together: one write per burst of lines instead of one per line, for a log that
 * gets a line per request.
 * @module
 */
import type { LinePieces } from "../gateway/log-lines.js";

/** How long a line may wait to be written with the ones after it, ms. */
export const LINE_BATCH_WAIT_MS = 50;
/** Bytes held at most: a burst past this is written at once. */
export const LINE_BATCH_BYTES = 64 * 1024;
/** UTF-8 takes at most 3 bytes per UTF-16 code unit. */
const MAX_BYTES_PER_CHAR = 3;
/** Pieces up to this long are copied a character at a time; longer ones by Buffer's encoder. */
const SHORT_PIECE = 64;
const NEWLINE = 0x0a;
const ZERO = 0x30;

export interface LineBatch extends LinePieces {
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
 * its collections copy nearly twice the bytes per request that a bare proxy's do.
 *
 * A line may also come in pieces (`text`, `number`, then `end`), which go into the buffer as they
 * come: no string is built for the line, nor flattened to be encoded. For the gateway's line per
 * request, that took about 0.6 µs less CPU per request under load.
 *
 * The lines held are written when the process exits, however it exits.
 */
export function batchLines(out: (text: string) => void): LineBatch {
  const held = Buffer.allocUnsafe(LINE_BATCH_BYTES);
  let used = 0;
  /** Where the line being written began. */
  let lineStart = 0;
  /** A line too long for the buffer, built as a string and written on its own. */
  let long: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  /** Writes the lines that are complete; a line being written moves to the buffer's start. */
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (lineStart === 0) return;
    // Without the last newline: `out` ends the text with its own.
    const text = held.toString("utf8", 0, lineStart - 1);
    held.copyWithin(0, lineStart, used);
    used -= lineStart;
    lineStart = 0;
    out(text);
  };
  /** Makes room for `bytes` more bytes of the current line, or turns it into a long one. */
  const room = (bytes: number): boolean => {
    if (used + bytes < LINE_BATCH_BYTES) return true;
    flush();
    if (used + bytes < LINE_BATCH_BYTES) return true;
    long = held.toString("utf8", 0, used);
    used = 0;
    return false;
  };
  const batch: LineBatch = {
    text(piece) {
      if (long !== undefined || !room(piece.length * MAX_BYTES_PER_CHAR)) {
        long += piece;
        return batch;
      }
      if (piece.length > SHORT_PIECE) {
        used += held.write(piece, used);
        return batch;
      }
      for (let i = 0; i < piece.length; i++) {
        const code = piece.charCodeAt(i);
        if (code >= 0x80) {
          used += held.write(piece.slice(i), used);
          return batch;
        }
        held[used++] = code;
      }
      return batch;
    },
    number(value) {
      if (!Number.isSafeInteger(value) || value < 0) return batch.text(String(value));
      let digits = 1;
      for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
      if (long !== undefined || !room(digits)) {
        long += String(value);
        return batch;
      }
      let rest = value;
      for (let at = used + digits - 1; at >= used; at--) {
        held[at] = ZERO + (rest % 10);
        rest = Math.floor(rest / 10);
      }
      used += digits;
      return batch;
    },
    end() {
      if (long !== undefined) {
        // Longer than a whole batch could hold: written alone, after what came before it.
        const line = long;
        long = undefined;
        out(line);
        return;
      }
      held[used++] = NEWLINE;
      lineStart = used;
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
  process.once("exit", flush);
  return batch;
}
