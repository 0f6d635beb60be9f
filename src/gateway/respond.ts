/**
 * The gateway's own answers: JSON errors in the shape the OpenAI and Anthropic SDKs read
 * (`{ "error": { "type", "message" } }`), and JSON documents.
 * @module
 */
import type { ServerResponse } from "node:http";

/** How a request ended, for its log line and the request-duration histogram. */
export interface RequestOutcome {
  status: number;
  /** The credential whose answer the client got. */
  credentialId?: string;
  /** The provider a proxied request was for. */
  provider?: string;
}

/** Answers `status` with a JSON error; returns what the request log needs. */
export function sendError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
): RequestOutcome {
  sendJson(res, status, { error: { type, message } });
  return { status };
}

/** Answers `status` with `body` as JSON, never cached. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(text);
}
