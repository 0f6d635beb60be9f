/**
 * Background webhook delivery: bounded, time-limited, retried and signed, so that a slow or
 * hostile receiver can neither hold up requests nor grow memory, nor reach internal services.
 *
 * - `enqueue` never throws and never waits: the event joins a bounded queue or is dropped and
 *   counted.
 * - One request at a time, each attempt limited by `timeoutMs` (DNS, connect, response and body).
 * - The target is checked against private addresses before every attempt and the checked IP is
 *   the one connected to (DNS rebinding cannot swap it); redirects are never followed.
 * - 2xx is delivered. 408, 429 and 5xx, network errors and timeouts are retried with exponential
 *   backoff and jitter, honouring `Retry-After` (capped). 410 disables the endpoint. Every other
 *   status, 3xx included, fails at once.
 * - Every attempt of one event carries the same `webhook-id`; with a `secret` it is signed per
 *   Standard Webhooks over the exact bytes sent.
 * - Response bodies are drained and thrown away, never stored or logged. Logs name the
 *   endpoint by its origin only: Slack and Discord keep a secret in the path, others in the query.
 * @module
 */

import { randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { Webhook } from "standardwebhooks";
import { raceAbort } from "../abort.js";
import { type Clock, MAX_TIMER_DELAY_MS, systemClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import { cappedExponentialMs } from "../health/backoff.js";
import { parseRetryAfter } from "../health/retry-after.js";
import type { Logger, WebhookEvent } from "../types.js";
import { DEFAULT_WEBHOOK_TIMEOUT_MS, webhookSecretIssue, webhookUrlIssue } from "./config.js";
import { webhookOrigin } from "./config-view.js";
import { checkWebhookTarget, type LookupFn, type WebhookTarget } from "./target-guard.js";
import { toWire } from "./wire.js";

/** Why a delivery failed. */
export type DeliveryFailure =
  /** The endpoint answered a status that is not retried, or retries ran out on one. */
  | "status"
  /** Connection refused or reset, DNS failure, … (retries ran out). */
  | "network"
  /** The last attempt took longer than `timeoutMs`. */
  | "timeout"
  /** The target resolves to a private address and private targets are not allowed. */
  | "refused"
  /** The endpoint answered 410 Gone, or had already, and is disabled. */
  | "disabled"
  /** The sender was closed before the event could be delivered. */
  | "closed";

/** What {@link WebhookSenderOptions.onDelivered} and `onFailed` are told. */
export interface DeliveryInfo {
  /** The `webhook-id` every attempt carried. */
  webhookId: string;
  /** Attempts made (0 when none was). */
  attempts: number;
  /** The last HTTP status, when the endpoint answered. */
  status?: number;
  /** Set on failures. */
  reason?: DeliveryFailure;
}

/** Options of {@link WebhookSender}. */
export interface WebhookSenderOptions {
  /** An `http:` or `https:` URL without userinfo. */
  url: string;
  /** A Standard Webhooks secret (`whsec_` + base64 of 24–64 bytes); requests are signed with it. */
  secret?: string;
  /** Per attempt, from DNS to the end of the response. @default 10_000 */
  timeoutMs?: number;
  /**
   * How long {@link WebhookSender.close} waits for the queue to drain before it aborts what is in
   * flight and drops the rest: a shutdown must not wait out a receiver that never answers.
   * @default 2_000
   */
  closeTimeoutMs?: number;
  /** Allow loopback, private and link-local targets. @default false */
  allowPrivateTargets?: boolean;
  /** Events waiting (not counting the one in flight) before new ones are dropped. @default 1000 */
  maxQueue?: number;
  /** Attempts per event, the first included. @default 5 */
  maxAttempts?: number;
  /** The first retry waits about this long; each further one twice as long. @default 1000 */
  retryBaseMs?: number;
  /** The longest wait before a retry, `Retry-After` included. @default 300_000 (5 min) */
  maxRetryDelayMs?: number;
  /** The clock for `webhook-timestamp` and HTTP-date `Retry-After`s. @default Date.now */
  now?: Clock;
  /** Where the few warnings go. @default console */
  logger?: Logger;
  /** Jitter source in [0, 1). @default Math.random */
  random?: () => number;
  /** Resolves the host. @default dns.promises.lookup */
  lookup?: LookupFn;
  /** Names the provider in log lines. */
  provider?: string;
  /** Called once per event delivered. A throw is logged and ignored. */
  onDelivered?: (event: WebhookEvent, info: DeliveryInfo) => void;
  /** Called once per event accepted by `enqueue` that was not delivered. A throw is logged and ignored. */
  onFailed?: (event: WebhookEvent, info: DeliveryInfo) => void;
}

/** Counters of a {@link WebhookSender}. */
export interface WebhookSenderStats {
  /** Waiting to be sent, retries included. */
  queued: number;
  inFlight: number;
  sent: number;
  failed: number;
  /**
   * Refused by `enqueue` (queue full, closed, or not serialisable), or given up by `close` when
   * its limit passed: waiting, or in flight and aborted.
   */
  dropped: number;
  /** Dropped because the endpoint answered 410 Gone. */
  disabled: number;
  /** The endpoint answered 410 Gone; nothing more is sent. */
  endpointDisabled: boolean;
}

/** Options of {@link WebhookSender.close}. */
export interface CloseOptions {
  /**
   * How long to wait for the queue to drain before aborting what is left.
   * @default the sender's `closeTimeoutMs`
   */
  timeoutMs?: number;
}

interface Entry {
  readonly event: WebhookEvent;
  readonly id: string;
  readonly body: string;
  attempts: number;
  lastStatus?: number;
  timer?: NodeJS.Timeout | undefined;
}

type AttemptResult =
  | { kind: "status"; status: number; retryAfter: string | undefined }
  | { kind: "network" }
  | { kind: "timeout" }
  | { kind: "refused"; message: string }
  | { kind: "aborted" };

const USER_AGENT = "oauthmanager";
/** Long enough for a healthy receiver to answer what is queued, short enough for a shutdown. */
const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;

/**
 * Delivers webhook events in the background. See the module comment for the policy.
 *
 * @example
 * const sender = new WebhookSender({ url: "https://hooks.example.com/oauth", secret });
 * sender.enqueue({ type: "refresh", credentialId: "team", timestamp: new Date(), message: "Token refreshed" });
 * await sender.close();
 */
export class WebhookSender {
  readonly #url: URL;
  readonly #logName: string;
  readonly #webhook: Webhook | undefined;
  readonly #secret: string | undefined;
  readonly #timeoutMs: number;
  readonly #closeTimeoutMs: number;
  readonly #allowPrivate: boolean;
  readonly #maxQueue: number;
  readonly #maxAttempts: number;
  readonly #retryBaseMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #now: Clock;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #lookup: LookupFn | undefined;
  readonly #onDelivered: WebhookSenderOptions["onDelivered"];
  readonly #onFailed: WebhookSenderOptions["onFailed"];

  #ready: Entry[] = [];
  readonly #waiting = new Set<Entry>();
  readonly #inFlight = new Map<Entry, AbortController>();
  #sent = 0;
  #failed = 0;
  #dropped = 0;
  #disabledCount = 0;
  #endpointDisabled = false;
  #closing = false;
  /** The close deadline passed: nothing new starts, whatever is left fails. */
  #abandoned = false;
  #closePromise: Promise<void> | undefined;
  #drainWaiters: (() => void)[] = [];
  // Warn on the first failure of a streak and the first drop of a full queue, not on every one.
  #failing = false;
  #warnedFull = false;
  #warnedRefused = false;

  /**
   * @throws {ConfigError} for a bad `url` or `secret` (never quoting either).
   * @throws {RangeError} for numeric options out of range.
   */
  constructor(opts: WebhookSenderOptions) {
    const allowPrivate = opts.allowPrivateTargets ?? false;
    const urlIssue = webhookUrlIssue(opts.url, allowPrivate);
    if (urlIssue) throw new ConfigError([{ path: "webhookUrl", message: urlIssue }]);
    if (opts.secret !== undefined) {
      const secretIssue = webhookSecretIssue(opts.secret);
      if (secretIssue) throw new ConfigError([{ path: "webhookSecret", message: secretIssue }]);
    }
    this.#url = new URL(opts.url);
    const who = opts.provider === undefined ? "oauthmanager" : `oauthmanager[${opts.provider}]`;
    this.#logName = `${who}: webhook ${webhookOrigin(this.#url)}`;
    this.#secret = opts.secret;
    this.#webhook = opts.secret === undefined ? undefined : new Webhook(opts.secret);
    this.#timeoutMs = checkNumber("timeoutMs", opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS, 1);
    if (this.#timeoutMs > MAX_TIMER_DELAY_MS) {
      throw new RangeError(
        `Expected \`timeoutMs\` to be at most ${MAX_TIMER_DELAY_MS}, got ${this.#timeoutMs}`,
      );
    }
    this.#closeTimeoutMs = checkNumber(
      "closeTimeoutMs",
      opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
      0,
    );
    if (this.#closeTimeoutMs > MAX_TIMER_DELAY_MS) {
      throw new RangeError(
        `Expected \`closeTimeoutMs\` to be at most ${MAX_TIMER_DELAY_MS}, got ${this.#closeTimeoutMs}`,
      );
    }
    this.#allowPrivate = allowPrivate;
    this.#maxQueue = checkInteger("maxQueue", opts.maxQueue ?? 1000, 1);
    this.#maxAttempts = checkInteger("maxAttempts", opts.maxAttempts ?? 5, 1);
    this.#retryBaseMs = checkNumber("retryBaseMs", opts.retryBaseMs ?? 1000, 0);
    this.#maxRetryDelayMs = checkNumber("maxRetryDelayMs", opts.maxRetryDelayMs ?? 300_000, 0);
    this.#now = opts.now ?? systemClock;
    this.#logger = opts.logger ?? console;
    this.#random = opts.random ?? Math.random;
    this.#lookup = opts.lookup;
    this.#onDelivered = opts.onDelivered;
    this.#onFailed = opts.onFailed;
  }

  /**
   * Queues an event for delivery. Never throws and never waits.
   * @returns false when the event was dropped: the queue is full, the sender is closing, the
   *   endpoint is disabled (410), or the event cannot be serialised.
   */
  enqueue(event: WebhookEvent): boolean {
    try {
      if (this.#endpointDisabled) {
        this.#disabledCount++;
        return false;
      }
      if (this.#closing) {
        this.#dropped++;
        return false;
      }
      if (this.#ready.length + this.#waiting.size >= this.#maxQueue) {
        this.#dropped++;
        if (!this.#warnedFull) {
          this.#warnedFull = true;
          this.#logger.warn(
            `${this.#logName}: queue full (${this.#maxQueue} events), dropping new events`,
          );
        }
        return false;
      }
      const body = JSON.stringify(toWire(event, { secrets: [this.#secret] }));
      this.#ready.push({
        event,
        id: `msg_${randomBytes(16).toString("base64url")}`,
        body,
        attempts: 0,
      });
      this.#pump();
      return true;
    } catch (err) {
      this.#dropped++;
      this.#logger.warn(`${this.#logName}: an event could not be queued: ${safeMessage(err)}`);
      return false;
    }
  }

  /** A snapshot of the counters. */
  stats(): WebhookSenderStats {
    return {
      queued: this.#ready.length + this.#waiting.size,
      inFlight: this.#inFlight.size,
      sent: this.#sent,
      failed: this.#failed,
      dropped: this.#dropped,
      disabled: this.#disabledCount,
      endpointDisabled: this.#endpointDisabled,
    };
  }

  /**
   * Stops accepting events, gives events waiting for a retry one last attempt now, waits for the
   * queue to drain until `timeoutMs` (the sender's `closeTimeoutMs` by default), then aborts
   * what is in flight and drops the rest, counting them in `dropped`.
   * Idempotent: later calls return the same promise. Never rejects.
   */
  close(opts: CloseOptions = {}): Promise<void> {
    this.#closePromise ??= this.#close(opts.timeoutMs ?? this.#closeTimeoutMs);
    return this.#closePromise;
  }

  /** {@link close} with the default deadline. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    for (const entry of this.#waiting) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
      this.#ready.push(entry);
    }
    this.#waiting.clear();
    this.#pump();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#drained(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.min(Math.max(0, timeoutMs), MAX_TIMER_DELAY_MS));
          timer.unref();
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    this.#abandoned = true;
    const left = this.#ready;
    this.#ready = [];
    for (const entry of left) {
      this.#dropped++;
      this.#notifyFailed(entry, "closed");
    }
    for (const ctl of this.#inFlight.values()) ctl.abort();
    await this.#drained();
  }

  #drained(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return this.#ready.length === 0 && this.#waiting.size === 0 && this.#inFlight.size === 0;
  }

  #checkDrained(): void {
    if (!this.#isIdle()) return;
    this.#warnedFull = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #pump(): void {
    // One at a time: an endpoint that hangs costs one socket, and events arrive in order.
    while (
      this.#inFlight.size < 1 &&
      this.#ready.length > 0 &&
      !this.#endpointDisabled &&
      !this.#abandoned
    ) {
      const entry = this.#ready.shift()!;
      const ctl = new AbortController();
      this.#inFlight.set(entry, ctl);
      void this.#attempt(entry, ctl.signal)
        .then((result) => {
          // Out of flight before the outcome is reported, so callbacks see consistent stats.
          this.#inFlight.delete(entry);
          this.#settle(entry, result);
        })
        .catch((err: unknown) => {
          // Only a bug lands here; never let it leave an event counted as in flight.
          this.#failed++;
          this.#logger.error(`${this.#logName}: delivery crashed: ${safeMessage(err)}`);
        })
        .finally(() => {
          this.#inFlight.delete(entry);
          this.#pump();
          this.#checkDrained();
        });
    }
  }

  async #attempt(entry: Entry, closeSignal: AbortSignal): Promise<AttemptResult> {
    entry.attempts++;
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort(new DOMException("webhook attempt timed out", "TimeoutError"));
    }, this.#timeoutMs);
    timer.unref();
    const onClose = () => ctl.abort(closeSignal.reason);
    closeSignal.addEventListener("abort", onClose, { once: true });
    const got: { status?: number; retryAfter?: string } = {};
    try {
      const lookup = this.#lookup;
      const target = await raceAbort(
        checkWebhookTarget(this.#url, {
          allowPrivate: this.#allowPrivate,
          ...(lookup ? { lookup } : {}),
        }),
        ctl.signal,
      );
      await this.#post(target, entry, ctl.signal, got);
      return { kind: "status", status: got.status ?? 0, retryAfter: got.retryAfter };
    } catch (err) {
      // The endpoint answered but the body was cut short: the status is what counts.
      if (got.status !== undefined) {
        return { kind: "status", status: got.status, retryAfter: got.retryAfter };
      }
      if (closeSignal.aborted) return { kind: "aborted" };
      if (timedOut) return { kind: "timeout" };
      if (err instanceof ConfigError) {
        return { kind: "refused", message: err.issues[0]?.message ?? err.message };
      }
      return { kind: "network" };
    } finally {
      clearTimeout(timer);
      closeSignal.removeEventListener("abort", onClose);
    }
  }

  #post(
    target: WebhookTarget,
    entry: Entry,
    signal: AbortSignal,
    got: { status?: number; retryAfter?: string },
  ): Promise<void> {
    const url = this.#url;
    const secure = url.protocol === "https:";
    const headers: Record<string, string> = {
      host: url.host,
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(entry.body)),
      "user-agent": USER_AGENT,
      "webhook-id": entry.id,
    };
    const sentAt = new Date(this.#now());
    headers["webhook-timestamp"] = String(Math.floor(sentAt.getTime() / 1000));
    if (this.#webhook)
      headers["webhook-signature"] = this.#webhook.sign(entry.id, sentAt, entry.body);
    const options: https.RequestOptions = {
      // The checked address, never the name again: a second resolution could answer differently.
      host: target.address,
      family: target.family,
      port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: "POST",
      headers,
      // A fresh connection each time: no pooled socket to a stale address outlives the sender.
      agent: false,
      signal,
    };
    // SNI and certificate checks use the URL's name; RFC 6066 forbids an IP as server name.
    if (secure && isIP(target.hostname) === 0) options.servername = target.hostname;
    return new Promise<void>((resolve, reject) => {
      const req = (secure ? https : http).request(options, (res) => {
        got.status = res.statusCode ?? 0;
        const ra = res.headers["retry-after"];
        if (typeof ra === "string") got.retryAfter = ra;
        res.on("error", reject);
        res.once("end", () => resolve());
        res.once("close", () => resolve());
        // Drained, never read: a response body could carry what a read-SSRF wants.
        res.resume();
      });
      req.on("error", reject);
      req.end(entry.body);
    });
  }

  #settle(entry: Entry, result: AttemptResult): void {
    switch (result.kind) {
      case "status":
        this.#settleStatus(entry, result.status, result.retryAfter);
        break;
      case "network":
      case "timeout":
        this.#retry(entry, result.kind, undefined);
        break;
      case "refused":
        if (!this.#warnedRefused) {
          this.#warnedRefused = true;
          this.#logger.warn(`${this.#logName}: target refused: ${result.message}`);
        }
        this.#fail(entry, "refused", undefined);
        break;
      case "aborted":
        // Given up by close(), not refused by the endpoint.
        this.#dropped++;
        this.#notifyFailed(entry, "closed");
        break;
    }
  }

  #settleStatus(entry: Entry, status: number, retryAfter: string | undefined): void {
    entry.lastStatus = status;
    if (status >= 200 && status < 300) {
      this.#delivered(entry);
    } else if (status === 410) {
      this.#disable(entry);
    } else if (status === 408 || status === 429 || (status >= 500 && status <= 599)) {
      this.#retry(entry, "status", parseRetryAfter(retryAfter, this.#now()));
    } else {
      // 3xx included: following a redirect would leave the checked address.
      this.#fail(entry, "status", `answered HTTP ${status}`);
    }
  }

  #retry(entry: Entry, reason: DeliveryFailure, retryAfterMs: number | undefined): void {
    if (entry.attempts >= this.#maxAttempts) {
      const what = reason === "status" ? `answered HTTP ${entry.lastStatus}` : `failed (${reason})`;
      this.#fail(entry, reason, `${what} after ${entry.attempts} attempt(s)`);
      return;
    }
    if (this.#abandoned) {
      this.#dropped++;
      this.#notifyFailed(entry, "closed");
      return;
    }
    if (this.#closing) {
      // Flushing: no backoff wait; the close deadline bounds these attempts.
      this.#ready.push(entry);
      return;
    }
    const delay = Math.min(retryAfterMs ?? this.#backoff(entry.attempts), this.#maxRetryDelayMs);
    this.#waiting.add(entry);
    entry.timer = setTimeout(
      () => {
        entry.timer = undefined;
        if (!this.#waiting.delete(entry)) return;
        this.#ready.push(entry);
        this.#pump();
      },
      Math.min(Math.max(0, delay), MAX_TIMER_DELAY_MS),
    );
    entry.timer.unref();
  }

  /** base × 2^(n−1), capped, then randomised between half and all of it. */
  #backoff(attempts: number): number {
    const step = cappedExponentialMs(attempts, this.#retryBaseMs, this.#maxRetryDelayMs);
    const r = this.#random();
    return step * (0.5 + 0.5 * (Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 1));
  }

  #delivered(entry: Entry): void {
    this.#sent++;
    this.#failing = false;
    const info: DeliveryInfo = { webhookId: entry.id, attempts: entry.attempts };
    if (entry.lastStatus !== undefined) info.status = entry.lastStatus;
    this.#call(this.#onDelivered, entry.event, info);
  }

  #fail(entry: Entry, reason: DeliveryFailure, why: string | undefined): void {
    this.#failed++;
    if (!this.#failing && why !== undefined) {
      this.#failing = true;
      this.#logger.warn(
        `${this.#logName}: delivery of a '${entry.event.type}' event for credential ${entry.event.credentialId} ${why}; further failures are not logged until one succeeds`,
      );
    }
    this.#notifyFailed(entry, reason);
  }

  #disable(entry: Entry): void {
    this.#endpointDisabled = true;
    this.#failed++;
    this.#logger.warn(
      `${this.#logName}: the endpoint answered 410 Gone; it is disabled and later events are dropped`,
    );
    this.#notifyFailed(entry, "disabled");
    const left = [...this.#ready, ...this.#waiting];
    this.#ready = [];
    for (const e of this.#waiting) clearTimeout(e.timer);
    this.#waiting.clear();
    for (const e of left) {
      this.#disabledCount++;
      this.#notifyFailed(e, "disabled");
    }
  }

  #notifyFailed(entry: Entry, reason: DeliveryFailure): void {
    const info: DeliveryInfo = { webhookId: entry.id, attempts: entry.attempts, reason };
    if (entry.lastStatus !== undefined) info.status = entry.lastStatus;
    this.#call(this.#onFailed, entry.event, info);
  }

  #call(
    fn: ((event: WebhookEvent, info: DeliveryInfo) => void) | undefined,
    event: WebhookEvent,
    info: DeliveryInfo,
  ): void {
    if (!fn) return;
    try {
      fn(event, info);
    } catch (err) {
      this.#logger.error(`${this.#logName}: a delivery callback threw: ${safeMessage(err)}`);
    }
  }
}

/** An error's name and code only: messages of network errors may quote addresses or URLs. */
function safeMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? `${err.name} ${code}` : err.name;
  }
  return typeof err;
}

function checkInteger(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`Expected \`${name}\` to be an integer >= ${min}, got ${v}`);
  }
  return v;
}

function checkNumber(name: string, v: number, min: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min) {
    throw new RangeError(`Expected \`${name}\` to be a finite number >= ${min}, got ${v}`);
  }
  return v;
}
