/**
 * A scripted API upstream on 127.0.0.1 for tests: records every request it gets (headers and body)
 * and answers them with the replies queued, in order. A request with no reply queued is answered
 * 500 and noted in `unexpected`, so a test can fail on it.
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { closeServer } from "./close-server.js";

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The token presented, whichever header carried it (`Bearer` stripped). */
  token: string;
}

/** A canned answer, or a handler that answers (or hangs, or streams) on its own. */
export type Reply =
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | ((req: SeenRequest, res: ServerResponse) => void);

export interface Upstream {
  url: string;
  readonly seen: SeenRequest[];
  readonly unexpected: string[];
  /** Queues answers for the next requests, in order. */
  reply(...replies: Reply[]): void;
  close(): Promise<void>;
}

function tokenOf(headers: IncomingHttpHeaders): string {
  const auth = headers.authorization;
  if (auth !== undefined) return auth.startsWith("Bearer ") ? auth.slice(7) : auth;
  for (const name of ["x-api-key", "x-goog-api-key"]) {
    const value = headers[name];
    if (typeof value === "string") return value;
  }
  return "";
}

export async function startUpstream(): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const unexpected: string[] = [];
  const queue: Reply[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request: SeenRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        token: tokenOf(req.headers),
      };
      seen.push(request);
      const reply = queue.shift();
      if (reply === undefined) {
        unexpected.push(`${request.method} ${request.path}`);
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "unexpected request" } }));
        return;
      }
      if (typeof reply === "function") {
        reply(request, res);
        return;
      }
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
      res.end(reply.body === undefined ? "" : JSON.stringify(reply.body));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    unexpected,
    reply: (...replies) => {
      queue.push(...replies);
    },
    close: () => closeServer(server),
  };
}
