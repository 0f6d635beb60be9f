import { once } from "node:events";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConnectionUpstream } from "./connection.js";

describe("ConnectionUpstream", () => {
  let url: string;
  /** Requests the server holds unanswered, and whether each closed. */
  const held: { res: ServerResponse; closed: Promise<unknown> }[] = [];
  const paths: string[] = [];
  let closeServer: () => Promise<void>;
  const agent = new Agent();

  beforeAll(async () => {
    const server = createServer((req, res) => {
      req.resume();
      paths.push(req.url ?? "");
      if (req.url === "/hold" || req.url === "/early-hints") {
        if (req.url === "/early-hints") res.writeEarlyHints({ link: "</a.css>; rel=preload" });
        held.push({ res, closed: once(res, "close") });
        return;
      }
      res.end("ok");
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    closeServer = () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    };
  });

  afterEach(() => {
    for (const { res } of held.splice(0)) res.end("released");
    paths.length = 0;
  });

  afterAll(async () => {
    await agent.close();
    await closeServer();
  });

  const heldCount = async (n: number) => {
    while (held.length < n) await new Promise((resolve) => setTimeout(resolve, 5));
  };

  it("holds a request while its answer's head is awaited, and nothing once it is in", async () => {
    const upstream = new ConnectionUpstream(agent);
    const pending = upstream.request({ origin: url, path: "/hold", method: "GET" });
    await heldCount(1);
    expect(upstream.waiting).toBe(1);
    held[0]!.res.end("late");
    expect(await (await pending).body.text()).toBe("late");
    for (let i = 0; i < 3; i++) {
      const res = await upstream.request({ origin: url, path: "/", method: "GET" });
      expect(await res.body.text()).toBe("ok");
    }
    expect(upstream.waiting).toBe(0);
  });

  it("aborts the requests waiting for their head, with the reason, and the upstream sees them close", async () => {
    const upstream = new ConnectionUpstream(agent);
    const first = upstream.request({ origin: url, path: "/hold", method: "GET" });
    const second = upstream.request({ origin: url, path: "/hold", method: "GET" });
    await heldCount(2);
    const reason = new Error("the client closed the connection");
    upstream.abort(reason);
    await expect(first).rejects.toBe(reason);
    await expect(second).rejects.toBe(reason);
    await Promise.all(held.map((h) => h.closed));
    expect(upstream.waiting).toBe(0);
  });

  it("still aborts a request after a 1xx, which is not the answer's head", async () => {
    const upstream = new ConnectionUpstream(agent);
    const pending = upstream.request({ origin: url, path: "/early-hints", method: "GET" });
    await heldCount(1);
    // Give the 103 time to arrive before the abort.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const reason = new Error("gone");
    upstream.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await held[0]!.closed;
  });

  /**
   * Runs `queue` with a connection whose requests wait for an agent's one upstream connection,
   * busy with a held request; then frees it, and sends one more request behind those queued, so
   * that they have had their turn.
   */
  const behindBusyConnection = async (queue: (queued: ConnectionUpstream) => Promise<void>) => {
    const single = new Agent({ connections: 1 });
    try {
      const busy = new ConnectionUpstream(single);
      const holding = busy.request({ origin: url, path: "/hold", method: "GET" });
      await heldCount(1);
      await queue(new ConnectionUpstream(single));
      held[0]!.res.end("done");
      expect(await (await holding).body.text()).toBe("done");
      const after = await busy.request({ origin: url, path: "/after", method: "GET" });
      expect(await after.body.text()).toBe("ok");
    } finally {
      await single.close();
    }
  };

  it("rejects at once a request dispatched after the abort, which never reaches the upstream", async () => {
    await behindBusyConnection(async (queued) => {
      const reason = new Error("already gone");
      queued.abort(reason);
      // Before the one connection frees.
      await expect(queued.request({ origin: url, path: "/", method: "GET" })).rejects.toBe(reason);
      expect(queued.waiting).toBe(0);
    });
    expect(paths).toEqual(["/hold", "/after"]);
  });

  it("rejects at once a request still queued for an upstream connection, and never sends it", async () => {
    await behindBusyConnection(async (queued) => {
      const pending = queued.request({ origin: url, path: "/queued", method: "GET" });
      const reason = new Error("left while queued");
      queued.abort(reason);
      // Before the one connection frees.
      await expect(pending).rejects.toBe(reason);
      expect(queued.waiting).toBe(0);
    });
    expect(paths).toEqual(["/hold", "/after"]);
  });

  it("tells a queued request's handler of the abort once, and nothing of it after", async () => {
    const calls: unknown[] = [];
    const reason = new Error("left while queued");
    await behindBusyConnection(async (queued) => {
      queued.dispatch(
        { origin: url, path: "/queued", method: "GET" },
        {
          onConnect: () => calls.push("connect"),
          onHeaders: () => calls.push("headers") > 0,
          onData: () => true,
          onComplete: () => calls.push("complete"),
          onError: (err) => calls.push(err),
        },
      );
      queued.abort(reason);
      expect(calls).toEqual([reason]);
    });
    expect(calls).toEqual([reason]);
    expect(paths).toEqual(["/hold", "/after"]);
  });

  it("leaves an answer whose head is in to its reader: the relay cuts it when the client leaves", async () => {
    const upstream = new ConnectionUpstream(agent);
    const pending = upstream.request({ origin: url, path: "/hold", method: "GET" });
    await heldCount(1);
    held[0]!.res.writeHead(200, { "content-type": "text/plain" });
    held[0]!.res.write("first ");
    const res = await pending;
    upstream.abort(new Error("gone"));
    held[0]!.res.end("second");
    expect(await res.body.text()).toBe("first second");
  });

  it("destroy aborts what waits; close leaves the shared agent alone", async () => {
    const upstream = new ConnectionUpstream(agent);
    const pending = upstream.request({ origin: url, path: "/hold", method: "GET" });
    await heldCount(1);
    await upstream.close();
    expect(upstream.waiting).toBe(1);
    await upstream.destroy();
    await expect(pending).rejects.toThrow("destroyed");
    // The agent still serves.
    expect(await (await agent.request({ origin: url, path: "/", method: "GET" })).body.text()).toBe(
      "ok",
    );
  });
});
