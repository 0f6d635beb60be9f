/**
 * An upstream answer's body, streamed to the client as it arrives, with backpressure.
 * @module
 */
import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";

/**
 * Writes the head of an answer: a streamed answer (no length known: SSE, chunked) gets its
 * headers out at once so that the client sees it begin; a sized one goes with its first bytes,
 * in one write.
 */
export function writeHead(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
): void {
  res.writeHead(status, headers);
  if (headers["content-length"] === undefined) res.flushHeaders();
}

/**
 * Pipes `body` into `res` (`pipe` pauses the upstream while the client is slow). A client that
 * leaves destroys `body`, which aborts the upstream request; an upstream that breaks off
 * destroys `res`, so the client sees the answer cut, never a wrong end.
 * @returns whether the whole answer reached the client
 */
export function relayBody(body: Readable, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    let broken = false;
    body.on("error", () => {
      broken = true;
      res.destroy();
    });
    res.once("close", () => {
      if (!res.writableFinished) {
        broken = true;
        body.destroy();
      }
      resolve(!broken);
    });
    body.pipe(res);
  });
}
