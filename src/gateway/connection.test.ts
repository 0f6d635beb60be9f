import { once } from "node:events";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortEmitter } from "./connection.js";

describe("AbortEmitter", () => {
  it("calls each abort listener once, with the emitter as this, and then holds none", () => {
    const e = new AbortEmitter();
    const calls: unknown[] = [];
    function listener(this: unknown) {
      calls.push(this);
    }
    e.once("abort", listener);
    e.once("abort", listener);
    expect(e.listenerCount("abort")).toBe(2);
    e.abort(new Error("gone"));
    e.abort(new Error("again"));
    expect(calls).toEqual([e, e]);
    expect(e.listenerCount("abort")).toBe(0);
    expect(e.aborted).toBe(true);
    expect((e.reason as Error).message).toBe("gone");
  });

  it("listeners removed in any order leave exactly the others", () => {
    const e = new AbortEmitter();
    const called: number[] = [];
    const listeners = Array.from({ length: 8 }, (_, i) => () => called.push(i));
    for (const l of listeners) e.once("abort", l);
    for (const i of [3, 0, 7, 5]) e.removeListener("abort", listeners[i]!);
    e.off("abort", listeners[1]!);
    expect(e.listenerCount("abort")).toBe(3);
    expect(e.listenerCount("abort", listeners[2])).toBe(1);
    expect(e.listenerCount("abort", listeners[3])).toBe(0);
    e.abort(undefined);
    expect(called.sort()).toEqual([2, 4, 6]);
  });

  it("does not keep a listener added after the abort", () => {
    const e = new AbortEmitter();
    e.abort(new Error("gone"));
    let called = false;
    e.once("abort", () => {
      called = true;
    });
    expect(e.listenerCount("abort")).toBe(0);
    expect(called).toBe(false);
  });

  it("is an EventEmitter as usual for every other event, and for on('abort')", () => {
    const e = new AbortEmitter();
    const seen: string[] = [];
    e.once("other", (v: string) => seen.push(`once ${v}`));
    e.on("other", (v: string) => seen.push(`on ${v}`));
    const onAbort = () => seen.push("on abort");
    e.on("abort", onAbort);
    e.emit("other", "a");
    e.emit("other", "b");
    expect(e.listenerCount("abort")).toBe(1);
    e.abort(undefined);
    e.removeListener("abort", onAbort);
    expect(seen).toEqual(["once a", "on a", "on b", "on abort"]);
    expect(e.listenerCount("abort")).toBe(0);
  });
});

describe("AbortEmitter as undici's request signal", () => {
  let url: string;
  const held = new Set<ServerResponse>();
  let closeServer: () => Promise<void>;
  const agent = new Agent();

  beforeAll(async () => {
    const server = createServer((req, res) => {
      req.resume();
      if (req.url === "/hold") {
        held.add(res);
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

  afterAll(async () => {
    await agent.close();
    await closeServer();
  });

  it("leaves no listener behind once a request's answer is read", async () => {
    const e = new AbortEmitter();
    for (let i = 0; i < 3; i++) {
      const res = await agent.request({ origin: url, path: "/", method: "GET", signal: e });
      expect(await res.body.text()).toBe("ok");
    }
    // undici lets go of its listener as the answer's body closes, a turn after its end.
    await new Promise((resolve) => setImmediate(resolve));
    expect(e.listenerCount("abort")).toBe(0);
  });

  it("aborts a request waiting for its answer, with the emitter's reason", async () => {
    const e = new AbortEmitter();
    const pending = agent.request({ origin: url, path: "/hold", method: "GET", signal: e });
    while (held.size === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const reason = new Error("the client closed the connection");
    e.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(e.listenerCount("abort")).toBe(0);
  });

  it("aborts at once a request started after the abort", async () => {
    const e = new AbortEmitter();
    const reason = new Error("already gone");
    e.abort(reason);
    await expect(agent.request({ origin: url, path: "/", method: "GET", signal: e })).rejects.toBe(
      reason,
    );
  });
});
