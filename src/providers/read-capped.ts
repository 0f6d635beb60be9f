/**
 * Reading an HTTP body with a size cap: a token endpoint (or whatever answers in its place) could
 * send an endless body, and buffering it would take the process's memory with it.
 * @module
 */
import { raceAbort } from "../abort.js";

/** The body's text, or `undefined` when it was over the cap (the rest is not read). */
export type CappedText = { text: string } | { tooLarge: true };

/**
 * Reads `response`'s body as UTF-8 text, at most `maxBytes`. Past the cap, or when `signal`
 * aborts, reading stops and the body is cancelled, which closes the connection.
 * @throws `signal.reason` when it aborts
 */
export async function readCappedText(
  response: Response,
  maxBytes: number,
  signal: AbortSignal,
): Promise<CappedText> {
  const body = response.body;
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await cancelQuietly(body);
    return { tooLarge: true };
  }
  if (body === null) return { text: "" };
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  let text = "";
  let total = 0;
  try {
    for (;;) {
      // A fetch stub may ignore the signal: the race stops the read either way.
      const { done, value } = await raceAbort(reader.read(), signal);
      if (done) return { text: text + decoder.decode() };
      total += value.byteLength;
      if (total > maxBytes) return { tooLarge: true };
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    // Also after the last chunk: releasing a finished reader is harmless, and a reader left
    // mid-body would keep the connection open until the server gives up.
    reader.cancel().catch(() => {});
    try {
      reader.releaseLock();
    } catch {
      // Older stream implementations refuse while a read is pending; the cancel above ends it.
    }
  }
}

async function cancelQuietly(body: ReadableStream<Uint8Array> | null): Promise<void> {
  try {
    await body?.cancel();
  } catch {
    // Already errored or locked: nothing more to free.
  }
}
