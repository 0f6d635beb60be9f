/**
 * One abort signal per client connection rather than per request. An HTTP/1.1 client cannot
 * take a request back without closing its connection, so the connection closing is the abort of
 * the request it carries. Making an AbortController and listening on it costs Node several
 * microseconds, more than the rest of the gateway's own work on a request, and one keep-alive
 * connection carries thousands of requests.
 * @module
 */
import type { Socket } from "node:net";

const signals = new WeakMap<Socket, AbortSignal>();

/** Aborts when `socket` closes; the same signal for every request on it. */
export function connectionSignal(socket: Socket): AbortSignal {
  let signal = signals.get(socket);
  if (signal === undefined) {
    const controller = new AbortController();
    signal = controller.signal;
    signals.set(socket, signal);
    socket.once("close", () => controller.abort(new Error("the client closed the connection")));
  }
  return signal;
}
