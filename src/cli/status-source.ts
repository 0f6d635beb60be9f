/**
 * Where `oauthmanager status` reads the pool: a running gateway's `/status`, or the managers a
 * configuration builds over its store. Both give the same wire shape, so `--json` does not depend
 * on the source.
 * @module
 */
import { describe, isRecord } from "../describe.js";
import { messageOf } from "../errors.js";
import { statusDocument } from "../gateway/status.js";
import type { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import { readCappedText } from "../providers/read-capped.js";

/** One credential on the wire: `healthInfoToWire`'s fields and latency percentiles (ms). */
export type WireCredential = Record<string, unknown>;

/** One provider on the wire: `healthSummaryToWire`'s fields, credentials with latencies. */
export interface WireProvider extends Record<string, unknown> {
  credentials: Record<string, WireCredential>;
}

/** What `/status` answers, and what `status --json` prints. */
export interface StatusReport {
  /** RFC 3339. */
  generated_at: string;
  providers: Record<string, WireProvider>;
}

/** The gateway's answer is read up to this size; a real one is a few KiB per credential. */
const MAX_STATUS_BYTES = 8 * 1024 * 1024;

/** A managers' pool as the gateway's `/status` shows it: the same document, built the same way. */
export function localReport(
  managers: ReadonlyMap<string, OAuthKeyManager>,
  now: Date,
): StatusReport {
  return statusDocument(managers, now) as unknown as StatusReport;
}

/** A failure to read a gateway's status: one line, no key in it. */
export class StatusFetchError extends Error {
  override name = "StatusFetchError";
}

/**
 * `GET <url>/status` with the client key as a bearer token.
 * @throws {StatusFetchError} when the gateway cannot be reached, refuses the key, or answers
 *   something that is not a status report
 */
export async function fetchReport(
  base: URL,
  key: string,
  signal: AbortSignal,
): Promise<StatusReport> {
  const url = new URL("status", base.href.endsWith("/") ? base : new URL(`${base.href}/`));
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${key}`, accept: "application/json" },
      redirect: "error",
      signal,
    });
  } catch (err) {
    const why = signal.aborted ? "no answer in time" : causeOf(err);
    throw new StatusFetchError(`cannot reach the gateway at ${url.origin}: ${why}`);
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw new StatusFetchError(
      `the gateway at ${url.origin} refused the client key (HTTP ${response.status}); set OAUTHMANAGER_KEY to one of its server.client_keys`,
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new StatusFetchError(
      `the gateway at ${url.origin} answered HTTP ${response.status} for /status`,
    );
  }
  let body: unknown;
  try {
    const read = await readCappedText(response, MAX_STATUS_BYTES, signal);
    if (!("text" in read)) {
      throw new StatusFetchError(
        `the answer of ${url.origin}/status is over ${MAX_STATUS_BYTES} bytes`,
      );
    }
    body = JSON.parse(read.text);
  } catch (err) {
    if (err instanceof StatusFetchError) throw err;
    if (signal.aborted)
      throw new StatusFetchError(`no answer from the gateway at ${url.origin} in time`);
    throw new StatusFetchError(
      `the gateway at ${url.origin} answered /status with something that is not JSON`,
    );
  }
  return checkReport(body, url.origin);
}

function checkReport(body: unknown, origin: string): StatusReport {
  const bad = (why: string) =>
    new StatusFetchError(`the answer of ${origin}/status is not a status report: ${why}`);
  if (!isRecord(body)) throw bad(`expected an object, got ${describe(body)}`);
  if (!isRecord(body.providers)) throw bad("`providers` is not an object");
  for (const [name, provider] of Object.entries(body.providers)) {
    if (!isRecord(provider) || !isRecord(provider.credentials)) {
      throw bad(`\`providers.${name}.credentials\` is not an object`);
    }
  }
  return {
    generated_at:
      typeof body.generated_at === "string" ? body.generated_at : new Date().toISOString(),
    providers: body.providers as Record<string, WireProvider>,
  };
}

/** The network error's reason (`ECONNREFUSED`), not fetch's bare "fetch failed". */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return messageOf(err);
}
