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

export class ClientConnection implements KeyMemo {
  /** Aborts when the connection closes; given to the pool with each request. */
  readonly signal: AbortSignal;
  /**
   * The same abort as an event emitter, which undici takes as a request's signal: listening on
   * it per request costs a fraction of an EventTarget listener.
   */
  readonly aborts = new EventEmitter();
  /** The key ring that accepted this connection last, and the key headers it accepted. */
  accepted: KeyMemo["accepted"];

  constructor(socket: Socket) {
    const controller = new AbortController();
    this.signal = controller.signal;
    // Pipelined requests each listen while in flight.
    this.aborts.setMaxListeners(0);
    // Held for the connection's life, this keeps the signal's one shared listener in place, so
    // each request's own wait on the signal adds and removes no listener.
    onAbort(this.signal, () => this.aborts.emit("abort"));
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
