/**
 * A `fetch` for the official SDKs (OpenAI, Anthropic, Google's): every request they make goes out
 * with a pooled credential, and a request the pool can cure on another credential (401, 429, 5xx,
 * a network failure) is replayed there before the SDK sees it. No gateway, no glue per call.
 * @module
 */
import { onAbort } from "../abort.js";
import { describe, describeSetting } from "../describe.js";
import { FailoverExhaustedError } from "../errors.js";
import type { KeyManager } from "../manager/key-manager.js";
import type { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import type {
  ExecuteOptions,
  ExecuteResult,
  OAuthCredentialSet,
  OperationResult,
} from "../types.js";
import { type AuthStyle, CREDENTIAL_HEADERS, checkedToken, resolveAuthStyle } from "./auth.js";

/** 32 MiB: more than any chat or embeddings request, less than a process should hold per call. */
const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Options of {@link pooledFetch}. */
export interface PooledFetchOptions {
  /** How the pooled token is presented to the upstream. @default "bearer" */
  auth?: AuthStyle;
  /** What sends each attempt. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /**
   * The largest request body, in bytes. A body is held in memory for the whole call so that it
   * can be replayed on another credential; a larger one is refused before any credential is used.
   * @default 33_554_432 (32 MiB)
   */
  maxBodyBytes?: number;
}

/**
 * An upstream answer of 400 or more, thrown inside the pool so that its classifier decides: a 401
 * refreshes and retries, a 429 cools the credential down for its Retry-After, a 5xx fails over, a
 * 400 goes back to the SDK as it is. Carries `status` and `headers` as the SDKs' errors do.
 */
export class UpstreamStatusError extends Error {
  readonly status: number;
  readonly headers: Headers;

  constructor(response: Response) {
    super(`upstream answered ${response.status}${statusTextOf(response)}`);
    this.name = "UpstreamStatusError";
    this.status = response.status;
    this.headers = response.headers;
  }
}

/** Either manager: an OAuthKeyManager hands operations a credential, a KeyManager a key. */
interface FailoverRunner {
  executeWithFailover(
    op: (
      arg: string | Readonly<OAuthCredentialSet>,
      signal: AbortSignal,
    ) => Promise<OperationResult<Response>>,
    opts?: ExecuteOptions,
  ): Promise<ExecuteResult<Response>>;
}

/** A request as the caller made it, body buffered: what every attempt sends again. */
interface BufferedRequest {
  url: string;
  /** The caller's init minus what each attempt sets itself. */
  init: RequestInit;
  headers: Headers;
  body: Uint8Array | undefined;
  signal: AbortSignal | undefined;
}

/**
 * A `fetch` that sends each request with a credential from `manager`, presented as `auth` says,
 * and fails over the way `executeWithFailover` does. Give it to an SDK as its `fetch` option, with
 * the SDK's own retries off (`maxRetries: 0`) and any placeholder as its key: the SDK's
 * `Authorization`, `x-api-key` and `x-goog-api-key` headers are dropped before a request goes out.
 *
 * Per request: the body is buffered once; an answer of 400 or more goes to the manager's
 * classifier (by default: 401 refreshes and retries the same credential, 403/408/429/5xx fail over
 * to the next, any other 4xx comes back at once); anything else, a streaming answer included, is
 * handed back as soon as its headers arrive, body untouched. When every attempt failed, the SDK
 * gets the last upstream answer, so it raises its usual error (`RateLimitError`, …). When none
 * answered at all it rejects as fetch does, with a `TypeError("fetch failed")` whose `cause` is the
 * pool's `FailoverExhaustedError`; an empty or resting pool rejects with the pool's own error.
 * Aborting the request's `signal` (the SDK's timeout or the caller's) stops the attempt in flight
 * and rejects with the signal's reason; the credential is not penalised.
 *
 * @throws {TypeError} when `manager` or an option is not what is expected
 * @example
 * const openai = new OpenAI({ apiKey: "pooled", maxRetries: 0, fetch: pooledFetch(keys) });
 * const anthropic = new Anthropic({
 *   apiKey: "pooled", maxRetries: 0, fetch: pooledFetch(keys, { auth: "x-api-key" }),
 * });
 */
export function pooledFetch(
  manager: OAuthKeyManager | KeyManager,
  options: PooledFetchOptions = {},
): typeof globalThis.fetch {
  if (typeof (manager as Partial<FailoverRunner> | null)?.executeWithFailover !== "function") {
    throw new TypeError(
      `Expected \`manager\` to be an OAuthKeyManager or a KeyManager, got ${describe(manager)}`,
    );
  }
  const runner = manager as unknown as FailoverRunner;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const auth = resolveAuthStyle(options.auth ?? "bearer");
  const send = options.fetch ?? globalThis.fetch;
  if (typeof send !== "function") {
    throw new TypeError(`Expected \`fetch\` to be a function, got ${describe(send)}`);
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw new RangeError(
      `Expected \`maxBodyBytes\` to be an integer >= 0, got ${describeSetting(maxBodyBytes)}`,
    );
  }
  const dropped = [...CREDENTIAL_HEADERS, auth.header];

  const pooled = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = await bufferRequest(input, init, maxBodyBytes);
    for (const name of dropped) request.headers.delete(name);
    const { signal } = request;
    // The answer of the latest failed attempt, body unread: what the SDK gets if none succeeds.
    let last: Response | undefined;
    const keep = (response: Response | undefined) => {
      if (last !== undefined) discard(last);
      last = response;
    };

    const attempt = async (
      arg: string | Readonly<OAuthCredentialSet>,
      attemptSignal: AbortSignal,
    ): Promise<OperationResult<Response>> => {
      const headers = new Headers(request.headers);
      headers.set(auth.header, auth.value(usableToken(arg)));
      const response = await send(request.url, {
        ...request.init,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        signal: attemptSignal,
      });
      if (response.status < 400) return { result: response };
      keep(response);
      throw new UpstreamStatusError(response);
    };

    try {
      const { result } = await runner.executeWithFailover(
        attempt,
        signal === undefined ? undefined : { signal },
      );
      keep(undefined);
      return result;
    } catch (err) {
      if (signal?.aborted && err === signal.reason) {
        keep(undefined);
        throw err;
      }
      // A 400 the classifier rethrew, or failover that ran out after an upstream answered: the SDK
      // turns the answer into its own error, as it would without the pool.
      if (last !== undefined && (err instanceof UpstreamStatusError || isExhausted(err)))
        return last;
      keep(undefined);
      if (isExhausted(err)) throw new TypeError("fetch failed", { cause: err });
      throw err;
    }
  };
  return pooled as typeof globalThis.fetch;
}

/**
 * The request in a form that can be sent again: `Request` normalises every input fetch accepts
 * (a URL, a `Request`, an init that overrides it; a string, `FormData` or stream body with the
 * content type it implies), then the body is read once, up to `maxBodyBytes`.
 */
async function bufferRequest(
  input: string | URL | Request,
  init: RequestInit | undefined,
  maxBodyBytes: number,
): Promise<BufferedRequest> {
  const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
  signal?.throwIfAborted();
  const body = init?.body;
  // A stream body can only be sent half-duplex; fetch insists on being told.
  const streamed =
    typeof body === "object" &&
    body !== null &&
    (body instanceof ReadableStream || Symbol.asyncIterator in body);
  const request = new Request(
    input,
    streamed && init !== undefined && !("duplex" in init) ? { ...init, duplex: "half" } : init,
  );
  const {
    signal: _ignored,
    body: _body,
    duplex: _duplex,
    ...rest
  } = (init ?? {}) as RequestInit & {
    duplex?: unknown;
  };
  const headers = new Headers(request.headers);
  // The length of the buffered body is known: fetch sets it for each attempt.
  headers.delete("content-length");
  headers.delete("transfer-encoding");
  return {
    url: request.url,
    init: { ...rest, method: request.method, redirect: request.redirect },
    headers,
    body: request.body === null ? undefined : await readCapped(request.body, maxBodyBytes, signal),
    signal: signal ?? undefined,
  };
}

async function readCapped(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  signal: AbortSignal | null | undefined,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  // A caller's stream that stalls must not hold the call past its abort.
  const stopWaiting =
    signal == null ? undefined : onAbort(signal, () => void reader.cancel().catch(() => {}));
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new RangeError(
          `Request body is larger than \`maxBodyBytes\` (${maxBytes} bytes): the pool holds a body in memory to send it again on another credential`,
        );
      }
      chunks.push(value);
    }
    signal?.throwIfAborted();
  } finally {
    stopWaiting?.();
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * The token of a pooled key or credential. One that cannot go in a header is that credential's
 * fault, not the request's: a plain `Error`, so the pool moves on to the next credential.
 */
function usableToken(arg: string | Readonly<OAuthCredentialSet>): string {
  const token = typeof arg === "string" ? arg : arg.accessToken;
  try {
    return checkedToken(token);
  } catch (err) {
    throw new Error(`the pooled token cannot be sent: ${(err as Error).message}`);
  }
}

/** Failover tried every credential it could and none gave an answer the SDK can use. */
function isExhausted(err: unknown): err is FailoverExhaustedError {
  return err instanceof FailoverExhaustedError;
}

/** Lets go of an answer nobody will read, so its connection goes back to the pool. */
function discard(response: Response): void {
  response.body?.cancel().catch(() => {});
}

function statusTextOf(response: Response): string {
  return response.statusText === "" ? "" : ` ${response.statusText}`;
}
