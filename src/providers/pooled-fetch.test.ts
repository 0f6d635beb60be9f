import { once } from "node:events";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { closeServer } from "../../test/support/close-server.js";
import { startUpstream, type Upstream } from "../../test/support/upstream.js";
import {
  CredentialsUnavailableError,
  FailoverExhaustedError,
  NoCredentialsError,
} from "../errors.js";
import { KeyManager } from "../manager/key-manager.js";
import { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import { pooledFetch } from "./pooled-fetch.js";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const now = () => NOW;
const JSON_HEADERS = { "content-type": "application/json" };

let upstream: Upstream;
const managers: { close(): Promise<void> }[] = [];

function keys(...apiKeys: string[]): KeyManager {
  const manager = new KeyManager("test", apiKeys, { now });
  managers.push(manager);
  return manager;
}

beforeEach(async () => {
  upstream = await startUpstream();
});

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
  await upstream.close();
  expect(upstream.unexpected).toEqual([]);
});

/** The upstream's response to the request that arrives next, once it has. */
function arrival(): { promise: Promise<ServerResponse>; resolve(res: ServerResponse): void } {
  let resolve!: (res: ServerResponse) => void;
  const promise = new Promise<ServerResponse>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A port nothing listens on: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  return port;
}

describe("pooledFetch: presenting the credential", () => {
  it("sends the pooled key as a bearer token, and none of the caller's credential headers", async () => {
    upstream.reply({ status: 200, body: { ok: true } });
    const fetch = pooledFetch(keys("key-a"));
    const res = await fetch(`${upstream.url}/v1/things?x=1`, {
      method: "POST",
      headers: {
        authorization: "Bearer sdk-dummy",
        "x-api-key": "sdk-dummy",
        "x-goog-api-key": "sdk-dummy",
        "x-custom": "kept",
        ...JSON_HEADERS,
      },
      body: JSON.stringify({ hello: "world" }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    const [seen] = upstream.seen;
    expect(seen?.method).toBe("POST");
    expect(seen?.path).toBe("/v1/things?x=1");
    expect(seen?.headers.authorization).toBe("Bearer key-a");
    expect(seen?.headers["x-api-key"]).toBeUndefined();
    expect(seen?.headers["x-goog-api-key"]).toBeUndefined();
    expect(seen?.headers["x-custom"]).toBe("kept");
    expect(seen?.headers["content-type"]).toBe("application/json");
    expect(seen?.body).toBe('{"hello":"world"}');
    expect(JSON.stringify(upstream.seen)).not.toContain("sdk-dummy");
  });

  it.each([
    ["x-api-key", "x-api-key", "key-a"],
    ["x-goog-api-key", "x-goog-api-key", "key-a"],
  ] as const)(
    "with auth %j the key goes in %s and no Authorization is sent",
    async (auth, header, value) => {
      upstream.reply({ status: 200, body: {} });
      const fetch = pooledFetch(keys("key-a"), { auth });
      await fetch(upstream.url, { headers: { Authorization: "Bearer sdk-dummy" } });
      expect(upstream.seen[0]?.headers[header]).toBe(value);
      expect(upstream.seen[0]?.headers.authorization).toBeUndefined();
    },
  );

  it("a custom style replaces the caller's copy of its header", async () => {
    upstream.reply({ status: 200, body: {} });
    const fetch = pooledFetch(keys("key-a"), {
      auth: { header: "Api-Key", template: "k {token}" },
    });
    await fetch(upstream.url, { headers: { "api-key": "sdk-dummy", authorization: "x" } });
    expect(upstream.seen[0]?.headers["api-key"]).toBe("k key-a");
    expect(upstream.seen[0]?.headers.authorization).toBeUndefined();
  });

  it("an OAuthKeyManager's credential presents its access token", async () => {
    upstream.reply({ status: 200, body: {} });
    const manager = new OAuthKeyManager("test", [{ id: "a", accessToken: "access-a" }], undefined, {
      now,
    });
    managers.push(manager);
    await pooledFetch(manager)(upstream.url);
    expect(upstream.seen[0]?.token).toBe("access-a");
  });

  it("takes a Request as input: its method, headers and body", async () => {
    upstream.reply({ status: 200, body: {} });
    const fetch = pooledFetch(keys("key-a"));
    await fetch(
      new Request(`${upstream.url}/r`, {
        method: "PUT",
        headers: { "x-api-key": "sdk-dummy", "x-custom": "1" },
        body: "payload",
      }),
    );
    expect(upstream.seen[0]).toMatchObject({
      method: "PUT",
      path: "/r",
      body: "payload",
      token: "key-a",
    });
    expect(upstream.seen[0]?.headers["x-custom"]).toBe("1");
    expect(upstream.seen[0]?.headers["x-api-key"]).toBeUndefined();
  });
});

describe("pooledFetch: failover", () => {
  it("a 503 fails over to the next key, which gets the same body", async () => {
    upstream.reply({ status: 503, body: { error: "down" } }, { status: 200, body: { ok: 2 } });
    const manager = keys("key-a", "key-b");
    const res = await pooledFetch(manager)(upstream.url, {
      method: "POST",
      headers: JSON_HEADERS,
      body: '{"n":1}',
    });
    expect(await res.json()).toEqual({ ok: 2 });
    expect(upstream.seen.map((s) => [s.token, s.body])).toEqual([
      ["key-a", '{"n":1}'],
      ["key-b", '{"n":1}'],
    ]);
    expect(manager.getCredentialHealthInfo("key-1")?.state).toBe("cooling");
    expect(manager.getCredentialHealthInfo("key-2")?.state).toBe("healthy");
  });

  it("a stream body is read once and replayed on the next key", async () => {
    upstream.reply({ status: 500 }, { status: 200, body: {} });
    const parts = ["part one, ", "part two"];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = parts.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    await pooledFetch(keys("key-a", "key-b"))(upstream.url, {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit);
    expect(upstream.seen.map((s) => s.body)).toEqual(["part one, part two", "part one, part two"]);
    expect(upstream.seen[1]?.headers["content-length"]).toBe("18");
  });

  it("a FormData body keeps its multipart boundary on every attempt", async () => {
    upstream.reply({ status: 502 }, { status: 200, body: {} });
    const form = new FormData();
    form.append("purpose", "fine-tune");
    form.append("file", new Blob(["line one\n"]), "data.jsonl");
    await pooledFetch(keys("key-a", "key-b"))(upstream.url, { method: "POST", body: form });
    const [first, second] = upstream.seen;
    const boundary = /boundary=(.+)$/.exec(String(first?.headers["content-type"]))?.[1];
    expect(first?.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(second?.headers["content-type"]).toBe(first?.headers["content-type"]);
    expect(first?.body).toContain(`--${boundary}`);
    expect(first?.body).toContain("line one");
    expect(second?.body).toBe(first?.body);
  });

  it("a 429 cools the key down for its Retry-After and the next key answers", async () => {
    upstream.reply(
      { status: 429, headers: { "retry-after": "7" }, body: { error: "slow down" } },
      { status: 200, body: { ok: true } },
    );
    const manager = keys("key-a", "key-b");
    const res = await pooledFetch(manager)(upstream.url);
    expect(res.status).toBe(200);
    expect(upstream.seen.map((s) => s.token)).toEqual(["key-a", "key-b"]);
    expect(manager.getCredentialHealthInfo("key-1")?.backoffUntil?.getTime()).toBe(NOW + 7_000);
  });

  it("a 403 fails over, as the pool's classifier says for a forbidden key", async () => {
    upstream.reply({ status: 403, body: {} }, { status: 200, body: {} });
    const res = await pooledFetch(keys("key-a", "key-b"))(upstream.url);
    expect(res.status).toBe(200);
    expect(upstream.seen.map((s) => s.token)).toEqual(["key-a", "key-b"]);
  });

  it.each([400, 404, 422])("a %i comes back as it is: no failover, no penalty", async (status) => {
    upstream.reply({ status, body: { error: "your fault" } });
    const manager = keys("key-a", "key-b");
    const failures: unknown[] = [];
    manager.on("failure", (f) => failures.push(f));
    const res = await pooledFetch(manager)(upstream.url);
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: "your fault" });
    expect(upstream.seen).toHaveLength(1);
    expect(failures).toEqual([]);
    expect(manager.getCredentialHealthInfo("key-1")?.state).toBe("healthy");
  });

  it("when every key fails, the last upstream answer comes back, body intact", async () => {
    upstream.reply(
      { status: 429, headers: { "retry-after": "5" }, body: { error: "first" } },
      { status: 429, headers: { "retry-after": "9" }, body: { error: "last" } },
    );
    const res = await pooledFetch(keys("key-a", "key-b"))(upstream.url);
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("9");
    expect(await res.json()).toEqual({ error: "last" });
  });

  it("the last answer wins even when a later attempt got none", async () => {
    const port = await closedPort();
    let calls = 0;
    // The first attempt reaches the upstream, the second a closed port.
    const fetch = pooledFetch(keys("key-a", "key-b"), {
      fetch: (input, init) => {
        calls++;
        const url = calls === 1 ? String(input) : `http://127.0.0.1:${port}/`;
        return globalThis.fetch(url, init);
      },
    });
    upstream.reply({ status: 502, body: { error: "bad gateway" } });
    const res = await fetch(upstream.url);
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ error: "bad gateway" });
    expect(calls).toBe(2);
  });

  it("with no answer at all it rejects as fetch does, the pool's error as cause", async () => {
    const port = await closedPort();
    const manager = keys("key-a", "key-b");
    const err = await pooledFetch(manager)(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe("fetch failed");
    const cause = (err as Error).cause;
    expect(cause).toBeInstanceOf(FailoverExhaustedError);
    expect((cause as FailoverExhaustedError).errors).toHaveLength(2);
    expect(manager.getCredentialHealthInfo("key-1")?.state).toBe("cooling");
  });

  it("an empty pool, or one whose keys all rest, rejects with the pool's own error", async () => {
    await expect(pooledFetch(keys())(upstream.url)).rejects.toBeInstanceOf(NoCredentialsError);
    upstream.reply({ status: 429, headers: { "retry-after": "60" } });
    const manager = keys("key-a");
    expect((await pooledFetch(manager)(upstream.url)).status).toBe(429);
    await expect(pooledFetch(manager)(upstream.url)).rejects.toBeInstanceOf(
      CredentialsUnavailableError,
    );
    expect(upstream.seen).toHaveLength(1);
  });

  it("a 401 refreshes the OAuth token and retries the same credential with the new one", async () => {
    upstream.reply({ status: 401, body: {} }, { status: 200, body: { ok: true } });
    const manager = new OAuthKeyManager(
      "test",
      [{ id: "a", accessToken: "old", refreshToken: "r" }],
      async (cred) => ({ ...cred, accessToken: "new" }),
      { now },
    );
    managers.push(manager);
    const res = await pooledFetch(manager)(upstream.url, { method: "POST", body: "again" });
    expect(res.status).toBe(200);
    expect(upstream.seen.map((s) => [s.token, s.body])).toEqual([
      ["old", "again"],
      ["new", "again"],
    ]);
  });

  it("a pooled key that cannot go in a header fails over instead of failing the request", async () => {
    upstream.reply({ status: 200, body: {} });
    const manager = keys("bad\nkey", "key-b");
    const failures: unknown[] = [];
    manager.on("failure", ({ error }) => failures.push(error));
    const res = await pooledFetch(manager)(upstream.url);
    expect(res.status).toBe(200);
    expect(upstream.seen.map((s) => s.token)).toEqual(["key-b"]);
    expect(String(failures[0])).toContain("cannot be sent");
    expect(String(failures[0])).not.toContain("bad");
  });
});

describe("pooledFetch: bodies, streams and aborts", () => {
  it("a body over maxBodyBytes is refused before any key is used", async () => {
    const manager = keys("key-a");
    const fetch = pooledFetch(manager, { maxBodyBytes: 8 });
    await expect(fetch(upstream.url, { method: "POST", body: "123456789" })).rejects.toThrow(
      new RangeError(
        "Request body is larger than `maxBodyBytes` (8 bytes): the pool holds a body in memory to send it again on another credential",
      ),
    );
    expect(upstream.seen).toEqual([]);
    expect(manager.getCredentialMetrics("key-1")?.requestCount).toBe(0);
    upstream.reply({ status: 200, body: {} });
    expect((await fetch(upstream.url, { method: "POST", body: "12345678" })).status).toBe(200);
    expect(upstream.seen[0]?.body).toBe("12345678");
  });

  it("a streaming answer is handed over once its headers arrive, its body untouched", async () => {
    let finish: (() => void) | undefined;
    upstream.reply((_, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n");
      finish = () => res.end("data: two\n\n");
    });
    const res = await pooledFetch(keys("key-a"))(upstream.url);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    expect((await reader.read()).value).toBe("data: one\n\n");
    // The upstream ends only when told to: what came so far was passed through, not buffered.
    finish?.();
    expect((await reader.read()).value).toBe("data: two\n\n");
    expect((await reader.read()).done).toBe(true);
  });

  it("aborting rejects with the signal's reason and drops the upstream request", async () => {
    const arrived = arrival();
    upstream.reply((_, res) => arrived.resolve(res));
    const manager = keys("key-a", "key-b");
    const controller = new AbortController();
    const call = pooledFetch(manager)(upstream.url, { signal: controller.signal });
    const res = await arrived.promise;
    const closed = once(res, "close");
    const reason = new Error("caller gave up");
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    await closed;
    expect(upstream.seen).toHaveLength(1);
    expect(manager.getCredentialHealthInfo("key-1")?.state).toBe("healthy");
  });

  it("aborting a streaming answer midway stops the upstream response", async () => {
    const arrived = arrival();
    upstream.reply((_, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n");
      arrived.resolve(res);
    });
    const controller = new AbortController();
    const res = await pooledFetch(keys("key-a"))(upstream.url, { signal: controller.signal });
    const upstreamRes = await arrived.promise;
    const closed = once(upstreamRes, "close");
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort(new Error("enough"));
    await expect(reader.read()).rejects.toThrow("enough");
    await closed;
  });

  it("aborting while a stream body stalls stops reading it and sends nothing", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("first part, then nothing"));
      },
      cancel() {
        cancelled = true;
      },
    });
    const controller = new AbortController();
    const call = pooledFetch(keys("key-a"))(upstream.url, {
      method: "POST",
      body,
      signal: controller.signal,
      duplex: "half",
    } as RequestInit);
    const reason = new Error("caller gave up");
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(cancelled).toBe(true);
    expect(upstream.seen).toEqual([]);
  });

  it("an already aborted signal sends nothing", async () => {
    const reason = new Error("too late");
    await expect(
      pooledFetch(keys("key-a"))(upstream.url, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    expect(upstream.seen).toEqual([]);
  });
});

describe("pooledFetch: arguments", () => {
  it.each([
    [undefined, "Expected `manager` to be an OAuthKeyManager or a KeyManager, got undefined"],
    [{}, "Expected `manager` to be an OAuthKeyManager or a KeyManager, got an object"],
  ])("refuses %j as a manager", (manager, message) => {
    expect(() => pooledFetch(manager as unknown as KeyManager)).toThrow(new TypeError(message));
  });

  it("refuses bad options with what was expected and what arrived", () => {
    const manager = keys("key-a");
    expect(() => pooledFetch(manager, { maxBodyBytes: -1 })).toThrow(
      new RangeError("Expected `maxBodyBytes` to be an integer >= 0, got -1"),
    );
    expect(() => pooledFetch(manager, { fetch: "x" as unknown as typeof fetch })).toThrow(
      new TypeError("Expected `fetch` to be a function, got a string"),
    );
    expect(() => pooledFetch(manager, { auth: "basic" as "bearer" })).toThrow(TypeError);
  });
});
