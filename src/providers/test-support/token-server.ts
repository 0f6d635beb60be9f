/**
 * A token endpoint on 127.0.0.1 for tests: records every request and answers as the test says.
 * @module
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the server received it. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers one request; it may also leave `res` hanging or destroy the socket. */
export type TokenHandler = (req: ReceivedRequest, res: ServerResponse) => void;

export interface TokenServer {
  /** `http://127.0.0.1:PORT/oauth/token` */
  url: string;
  origin: string;
  received: ReceivedRequest[];
  /** Requests whose connection closed before the server ended its answer. */
  abandoned: number;
  close(): Promise<void>;
}

/** Starts a server answering every request with `handler`. */
export async function startTokenServer(handler: TokenHandler): Promise<TokenServer> {
  const received: ReceivedRequest[] = [];
  const state = { abandoned: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request: ReceivedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      received.push(request);
      res.on("close", () => {
        if (!res.writableFinished) state.abandoned++;
      });
      handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/oauth/token`,
    origin,
    received,
    get abandoned() {
      return state.abandoned;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers with `body` as JSON and `status`. */
export function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}
