/**
 * A request body read whole, up to a cap: it is sent again on another credential when the first
 * one fails, so it must be in memory, and so it must be bounded.
 * @module
 */
import type { IncomingMessage } from "node:http";

/** The body is larger than the gateway accepts (answered 413). */
export class BodyTooLargeError extends Error {
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    super(`request body is larger than ${maxBytes} bytes`);
    this.name = "BodyTooLargeError";
    this.maxBytes = maxBytes;
  }
}

/** Whether the request says a body follows (a length, or chunked framing). */
export function hasBody(req: IncomingMessage): boolean {
  return (
    req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined
  );
}

/**
 * The request's body, or undefined when it has none.
 * @throws {BodyTooLargeError} as soon as the declared length or the bytes read pass `maxBytes`
 */
export async function readBody(
  req: IncomingMessage,
  maxBytes: number,
): Promise<Buffer | undefined> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) throw new BodyTooLargeError(maxBytes);
  if (!hasBody(req)) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new BodyTooLargeError(maxBytes);
    chunks.push(chunk);
  }
  if (size === 0) return declared === undefined ? undefined : Buffer.alloc(0);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}
