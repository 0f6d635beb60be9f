/**
 * The baseline of section 9: a bare pass-through proxy, node:http and the same undici client as
 * the gateway (one Agent, keep-alive) and the same streaming of answers, with no credential
 * pool, no key check and no log. Run as
 * a child process: `node --import tsx bench/bare-proxy.ts UPSTREAM`; prints its URL.
 * @module
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, type Dispatcher } from "undici";
import { relayBody, writeHead } from "../src/gateway/relay.js";

const upstream = new URL(process.argv[2] ?? "");
const agent = new Agent({ keepAliveTimeout: 30_000 });
const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "host", "content-length"]);

const server = createServer({ noDelay: true }, async (req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !HOP.has(name)) headers[name] = value;
  }
  headers.authorization = "Bearer bench-upstream-key";
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  try {
    const answer = await agent.request({
      origin: upstream.origin,
      path: req.url ?? "/",
      method: (req.method ?? "GET") as Dispatcher.HttpMethod,
      headers,
      body: chunks.length === 0 ? null : Buffer.concat(chunks),
    });
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP.has(name)) out[name] = value;
    }
    const length = answer.headers["content-length"];
    if (typeof length === "string") out["content-length"] = length;
    writeHead(res, answer.statusCode, out);
    await relayBody(answer.body, res);
  } catch {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  }
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
});
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close();
  void agent.close();
});
