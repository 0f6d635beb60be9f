/**
 * What the gateway keeps per client connection for every request it carries: the abort, and
 * which client key it was last accepted with.
 *
 * One abort per connection rather than per request: an HTTP/1.1 client cannot take a request
 * back without closing its connection, so the connection closing is the abort of the requests
 * it carries. Making an AbortController and listening on it costs Node several microseconds,
 * more than the rest of the gateway's own work on a request, and one keep-alive connection
 * carries thousands of requests.
 * @module
 */
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { onAbort } from "../abort.js";
import type { KeyMemo } from "./client-keys.js";

/** A listener as EventEmitter types it. */
type Listener = Parameters<EventEmitter["on"]>[1];

/**
 * An abort as undici takes a request's signal: an EventEmitter, on which undici calls
 * `once("abort", listener)` as a request starts and `removeListener("abort", listener)` as it
 * ends. A keep-alive connection sees that once per request. EventEmitter's own `once` wraps each
 * listener in a bound function with a record of its own, and its `removeListener` looks the
 * wrapper up again; here the listeners of `abort` are an array, a removed one replaced by the
 * last. Under load that took 0.5–1.2 µs less CPU per proxied request. Every other event is
 * EventEmitter's as usual.
 */
export class AbortEmitter extends EventEmitter {
  /** Listeners of `abort` not called or removed yet; pipelined requests may each have one. */
  #listeners: Listener[] = [];
  #reason: unknown;
  #aborted = false;

  /** Read by undici before it listens: a request started after the abort is aborted at once. */
  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** Calls each listener of `abort` once, with `reason` as undici's requests then see it. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.emit("abort");
  }

  override once(event: string | symbol, listener: Listener): this {
    if (event !== "abort") return super.once(event, listener);
    // An abort that has happened will not happen again: nothing to wait for.
    if (!this.#aborted) this.#listeners.push(listener);
    return this;
  }

  override removeListener(event: string | symbol, listener: Listener): this {
    if (event !== "abort") return super.removeListener(event, listener);
    const list = this.#listeners;
    const at = list.lastIndexOf(listener);
    if (at !== -1) {
      const last = list.pop();
      if (at < list.length && last !== undefined) list[at] = last;
    } else {
      super.removeListener(event, listener);
    }
    return this;
  }

  override off(event: string | symbol, listener: Listener): this {
    return this.removeListener(event, listener);
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event !== "abort") return super.emit(event, ...args);
    const taken = this.#listeners.splice(0);
    for (const listener of taken) listener.apply(this, args);
    return super.emit(event, ...args) || taken.length > 0;
  }

  override listenerCount(event: string | symbol, listener?: Listener): number {
    const own = super.listenerCount(event, listener);
    if (event !== "abort") return own;
    const list = this.#listeners;
    return own + (listener === undefined ? list.length : list.filter((l) => l === listener).length);
  }
}

export class ClientConnection implements KeyMemo {
  /** Aborts when the connection closes; given to the pool with each request. */
  readonly signal: AbortSignal;
  /**
   * The same abort as an event emitter, which undici takes as a request's signal: listening on
   * it per request costs a fraction of an EventTarget listener.
   */
  readonly aborts = new AbortEmitter();
  /** The key ring that accepted this connection last, and the key headers it accepted. */
  accepted: KeyMemo["accepted"];

  constructor(socket: Socket) {
    const controller = new AbortController();
    this.signal = controller.signal;
    // Held for the connection's life, this keeps the signal's one shared listener in place, so
    // each request's own wait on the signal adds and removes no listener.
    onAbort(this.signal, () => this.aborts.abort(this.signal.reason));
    socket.once("close", () => controller.abort(new Error("the client closed the connection")));
  }
}

const connections = new WeakMap<Socket, ClientConnection>();

/** The connection `socket` carries, made on its first request. */
export function clientConnection(socket: Socket): ClientConnection {
  let connection = connections.get(socket);
  if (connection === undefined) {
    connection = new ClientConnection(socket);
    connections.set(socket, connection);
  }
  return connection;
}
