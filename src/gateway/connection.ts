/**
 * What the gateway keeps per client connection for every request it carries: the abort, the
 * upstream requests it aborts, and which client key the connection was last accepted with.
 *
 * One abort per connection rather than per request: an HTTP/1.1 client cannot take a request
 * back without closing its connection, so the connection closing is the abort of the requests
 * it carries. Making an AbortController and listening on it costs Node several microseconds,
 * more than the rest of the gateway's own work on a request, and one keep-alive connection
 * carries thousands of requests.
 * @module
 */
import type { Socket } from "node:net";
import { Dispatcher } from "undici";
import { onAbort } from "../abort.js";
import { OPERATION_SETTLES_ON_ABORT, type PoolCallOptions } from "../manager/failover.js";
import type { KeyMemo } from "./client-keys.js";

/**
 * A client connection's way to the upstreams: its requests go through the gateway's shared
 * agent, and those still waiting for their answer's head are aborted when the connection closes.
 * Once the head is in, the relay of the body takes over: a client that leaves destroys the body,
 * and with it the request.
 *
 * Why not a signal per request: undici listens on a request's signal with two closures of its
 * own, and once the head arrives it adds a `close` listener to the body to let go of the signal.
 * In paired runs under load, sending no signal took 1.4–1.8 µs less CPU per proxied request
 * (of about 77 µs on that host). Here a request costs one small record in a list, which it
 * leaves once its head is in.
 */
export class ConnectionUpstream extends Dispatcher {
  readonly #agent: Dispatcher;
  /** Requests dispatched whose answer's head is not in yet; a left one is replaced by the last. */
  readonly #waiting: WaitingRequest[] = [];
  /** Why the connection's requests were aborted; undefined while it is open. */
  #reason: Error | undefined;

  constructor(agent: Dispatcher) {
    super();
    this.#agent = agent;
  }

  /** Requests waiting for their answer's head. */
  get waiting(): number {
    return this.#waiting.length;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
    const reason = this.#reason;
    if (reason !== undefined) {
      // Rejected as undici rejects a request to a closed dispatcher: never queued, never sent.
      handler.onError!(reason);
      return false;
    }
    return this.#agent.dispatch(options, new WaitingRequest(handler, this.#waiting));
  }

  /** Aborts every request still waiting with `reason`, and every one dispatched later. */
  abort(reason: Error): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    for (const request of this.#waiting.splice(0)) request.abort(reason);
  }

  /** The agent is the gateway's, closed with it: nothing of this connection's own to close. */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    if (callback === undefined) return Promise.resolve();
    queueMicrotask(callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(
    errOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | void {
    const err = typeof errOrCallback === "function" ? null : errOrCallback;
    this.abort(err ?? new Error("the client connection was destroyed"));
    const done = typeof errOrCallback === "function" ? errOrCallback : callback;
    if (done === undefined) return Promise.resolve();
    queueMicrotask(done);
  }
}

/**
 * One request of a {@link ConnectionUpstream}, wrapped around the handler undici's `request()`
 * made for it: it keeps the request's abort from `onConnect` while the head is awaited. undici 7
 * marks these callbacks (`onConnect`, `onHeaders`, …) deprecated in favour of `onRequestStart`
 * and `onResponse…`, but the handler of its own `request()` still speaks them; a wrapper of the
 * new kind around it would make undici translate every callback both ways, with a wrapper and a
 * controller of its own per request. The tests beside this file fail if an undici upgrade
 * changes how these are called.
 */
class WaitingRequest implements Dispatcher.DispatchHandler {
  readonly #inner: Dispatcher.DispatchHandler;
  readonly #list: WaitingRequest[];
  /** Its index in `#list`, or -1 once it left. */
  #at: number;
  #abort: ((err?: Error) => void) | undefined;
  /** The abort its caller was told of before undici had connected it. */
  #abortedUnconnected: Error | undefined;

  constructor(inner: Dispatcher.DispatchHandler, list: WaitingRequest[]) {
    this.#inner = inner;
    this.#list = list;
    this.#at = list.length;
    list.push(this);
  }

  /** Called by the connection's abort, which has already taken it out of the list. */
  abort(reason: Error): void {
    this.#at = -1;
    const abort = this.#abort;
    if (abort !== undefined) {
      abort(reason);
      return;
    }
    // Not on an upstream connection yet: queued behind busy ones, it could wait up to the connect
    // timeout for one, and its caller (the pool's call, the credential it holds) with it. The
    // caller hears of the abort now; `onConnect` aborts the request as it comes, unsent, and
    // what undici reports of it then is not passed on.
    this.#abortedUnconnected = reason;
    this.#inner.onError!(reason);
  }

  onConnect(abort: (err?: Error) => void, context?: unknown): void {
    // Aborted while it was queued for an upstream connection: it is out of the list already.
    const reason = this.#abortedUnconnected;
    if (reason !== undefined) {
      abort(reason);
      return;
    }
    this.#abort = abort;
    (this.#inner.onConnect as (abort: (err?: Error) => void, context?: unknown) => void)(
      abort,
      context,
    );
  }

  onHeaders(status: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    // A 1xx is not the answer's head: the request still waits.
    if (status >= 200) this.#leave();
    return this.#inner.onHeaders!(status, headers, resume, statusText);
  }

  onData(chunk: Buffer): boolean {
    return this.#inner.onData!(chunk);
  }

  onComplete(trailers: string[] | null): void {
    this.#leave();
    this.#inner.onComplete!(trailers);
  }

  onError(err: Error): void {
    this.#leave();
    if (this.#abortedUnconnected === undefined) this.#inner.onError!(err);
  }

  /** Out of the list: the last one takes its place. */
  #leave(): void {
    const at = this.#at;
    if (at === -1) return;
    this.#at = -1;
    this.#abort = undefined;
    const list = this.#list;
    const last = list.pop()!;
    if (last !== this) {
      list[at] = last;
      last.#at = at;
    }
  }
}

export class ClientConnection implements KeyMemo {
  /** Aborts when the connection closes. */
  readonly signal: AbortSignal;
  /** The upstream requests this connection's requests make, aborted with it. */
  readonly upstream: ConnectionUpstream;
  /**
   * What the pool gets with each request (plus a scope when the request names a model): the
   * connection's signal, and that its requests settle by themselves once the signal aborts
   * (their upstream request is aborted with the connection), so the pool does not race them
   * against it. One object for the connection's life.
   */
  readonly poolOptions: PoolCallOptions;
  /** The key ring that accepted this connection last, and the key headers it accepted. */
  accepted: KeyMemo["accepted"];

  constructor(socket: Socket, agent: Dispatcher) {
    const controller = new AbortController();
    const signal = controller.signal;
    this.signal = signal;
    this.upstream = new ConnectionUpstream(agent);
    this.poolOptions = { signal, [OPERATION_SETTLES_ON_ABORT]: true };
    // Held for the connection's life, this also keeps the signal's one shared listener in place,
    // so a request's own wait on the signal (a refresh, a wait for a credential) adds and removes
    // no listener.
    onAbort(signal, () => this.upstream.abort(signal.reason as Error));
    socket.once("close", () => controller.abort(new Error("the client closed the connection")));
  }
}

const connections = new WeakMap<Socket, ClientConnection>();

/** The connection `socket` carries, made on its first request; its upstream requests go to `agent`. */
export function clientConnection(socket: Socket, agent: Dispatcher): ClientConnection {
  let connection = connections.get(socket);
  if (connection === undefined) {
    connection = new ClientConnection(socket, agent);
    connections.set(socket, connection);
  }
  return connection;
}
