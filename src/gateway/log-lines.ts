/**
 * The gateway's log: a line per request and one per notice, written in pieces so that a sink can
 * take them without a string being built per request.
 * @module
 */

/** Where log lines go, a piece at a time: `text` and `number` add to the line, `end` closes it. */
export interface LinePieces {
  text(piece: string): LinePieces;
  /** A whole number, written in decimal. */
  number(value: number): LinePieces;
  end(): void;
}

/** Pieces joined into one string per line, which `out` gets at each `end`. */
export function joinedLines(out: (line: string) => void): LinePieces {
  let line = "";
  const pieces: LinePieces = {
    text(piece) {
      line += piece;
      return pieces;
    },
    number(value) {
      line += String(value);
      return pieces;
    },
    end() {
      const done = line;
      line = "";
      out(done);
    },
  };
  return pieces;
}

/** `METHOD PROVIDER PATH STATUS CREDENTIAL MSms`, with `-` for a provider or credential not known. */
export function writeRequestLine(
  log: LinePieces,
  method: string,
  provider: string | undefined,
  path: string,
  status: number,
  credentialId: string | undefined,
  ms: number,
): void {
  log
    .text(method)
    .text(" ")
    .text(provider ?? "-")
    .text(" ")
    .text(path)
    .text(" ")
    .number(status)
    .text(" ")
    .text(credentialId ?? "-")
    .text(" ")
    .number(ms)
    .text("ms")
    .end();
}
