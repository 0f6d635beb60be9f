/**
 * The gateway end to end: real HTTP on 127.0.0.1 from a client (fetch) through the gateway to a
 * scripted upstream. Nothing waits on time: each test waits on the events it is about.
 */
import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, rawRequest, startGateway, type TestGateway } from "./support/gateway.js";
import { type SeenRequest, startUpstream, type Upstream } from "./support/upstream.js";

const KEY = "gw-client-key-0123456789";
const ADMIN = "gw-admin-key-0123456789";

let upstream: Upstream;
let gw: TestGateway | undefined;

afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await upstream?.close();
});

/** A configuration with one provider `p` of `keys` API keys in front of `upstream`. */
function keysConfig(url: string, keys: string[], extra = ""): string {
  return `
server:
  client_keys: ["${KEY}"]
  admin_key: "${ADMIN}"
${extra}
providers:
  p:
    upstream: ${url}/base
    api_keys: [${keys.map((k) => `"${k}"`).join(", ")}]
`;
}

/** A promise and its resolve function, for an upstream that waits for the test. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("gateway: forwarding", () => {
  it("forwards path and query to the upstream's base path with the pooled key, never the client's", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["upstream-key-1"]));
    upstream.reply({ status: 200, body: { ok: true } });
    const res = await call(`${gw.url}/p/v1/things?x=1&y=2`, KEY, {
      method: "POST",
      body: JSON.stringify({ hello: "world" }),
      headers: { "content-type": "application/json", "x-custom": "kept", "x-api-key": KEY },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    const [seen] = upstream.seen as [SeenRequest];
    expect(seen.path).toBe("/base/v1/things?x=1&y=2");
    expect(seen.method).toBe("POST");
    expect(seen.body).toBe(JSON.stringify({ hello: "world" }));
    expect(seen.headers.authorization).toBe("Bearer upstream-key-1");
    expect(seen.headers["x-custom"]).toBe("kept");
    expect(JSON.stringify(seen.headers)).not.toContain(KEY);
    expect(gw.logs.join("\n")).not.toContain(KEY);
    expect(gw.logs.join("\n")).not.toContain("upstream-key-1");
    expect(gw.logs.some((l) => /^POST p \/p\/v1\/things 200 key-1 \d+ms$/.test(l))).toBe(true);
  });

  it("requires a client key, accepted as Bearer, x-api-key or x-goog-api-key", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1"]));
    expect((await fetch(`${gw.url}/p/x`)).status).toBe(401);
    expect((await call(`${gw.url}/p/x`, "wrong-key")).status).toBe(401);
    expect((await fetch(`${gw.url}/p/x`, { headers: { "x-api-key": `${KEY}x` } })).status).toBe(
      401,
    );
    upstream.reply({ status: 200 }, { status: 200 }, { status: 200 });
    expect((await call(`${gw.url}/p/x`, KEY)).status).toBe(200);
    expect((await fetch(`${gw.url}/p/x`, { headers: { "x-api-key": KEY } })).status).toBe(200);
    expect((await fetch(`${gw.url}/p/x`, { headers: { "x-goog-api-key": KEY } })).status).toBe(200);
    expect(upstream.seen).toHaveLength(3);
    for (const seen of upstream.seen) {
      expect(seen.headers["x-api-key"]).toBeUndefined();
      expect(seen.headers["x-goog-api-key"]).toBeUndefined();
      expect(seen.token).toBe("k1");
    }
  });

  it("strips hop-by-hop headers both ways and upstream cookies", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1"]));
    upstream.reply({ status: 200, body: {} });
    const raw = await rawRequest(gw.url, "/p/x", {
      authorization: `Bearer ${KEY}`,
      "x-private": "p",
      connection: "keep-alive, x-private",
      "proxy-authorization": "Basic abc",
      "x-kept": "1",
    });
    expect(raw.status).toBe(200);
    const [seen] = upstream.seen as [SeenRequest];
    expect(seen.headers["x-private"]).toBeUndefined();
    expect(seen.headers["proxy-authorization"]).toBeUndefined();
    expect(seen.headers["x-kept"]).toBe("1");
    upstream.reply({
      status: 200,
      headers: {
        "set-cookie": "session=pooled",
        "x-upstream": "yes",
        "x-hop": "1",
        connection: "x-hop",
      },
      body: {},
    });
    const res = await call(`${gw.url}/p/x`, KEY);
    expect(res.headers.get("x-upstream")).toBe("yes");
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(res.headers.get("x-hop")).toBeNull();
  });

  it("an unknown provider is 404, an unsafe path 400", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1"]));
    expect((await call(`${gw.url}/nope/x`, KEY)).status).toBe(404);
    const climb = await rawRequest(gw.url, "/p/%2e%2e/admin", { authorization: `Bearer ${KEY}` });
    expect(climb.status).toBe(400);
    expect(upstream.seen).toHaveLength(0);
  });
});

describe("gateway: failover", () => {
  it("fails over on 401, 429 and 503 before the first byte, to a credential that answers", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1", "k2", "k3", "k4"]));
    upstream.reply(
      { status: 401, body: { error: "bad key" } },
      { status: 429, headers: { "retry-after": "30" }, body: { error: "slow down" } },
      { status: 503, body: { error: "down" } },
    );
    // Three attempts at most per request: the fourth key serves the next one.
    const first = await call(`${gw.url}/p/x`, KEY, { method: "POST", body: "payload" });
    expect(first.status).toBe(503);
    expect(await first.json()).toEqual({ error: "down" });
    expect(upstream.seen.map((s) => s.token)).toEqual(["k1", "k2", "k3"]);
    expect(upstream.seen.every((s) => s.body === "payload")).toBe(true);
    upstream.reply({ status: 200, body: { served: true } });
    const second = await call(`${gw.url}/p/x`, KEY, { method: "POST", body: "payload" });
    expect(second.status).toBe(200);
    expect(upstream.seen.at(-1)?.token).toBe("k4");
  });

  it("replays a failed attempt on the next credential and answers with its success", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1", "k2"]));
    upstream.reply({ status: 503, body: {} }, { status: 200, body: { ok: 2 } });
    const res = await call(`${gw.url}/p/x`, KEY, { method: "POST", body: "b" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: 2 });
    expect(upstream.seen.map((s) => [s.token, s.body])).toEqual([
      ["k1", "b"],
      ["k2", "b"],
    ]);
    expect(gw.logs.some((l) => / 200 key-2 /.test(l))).toBe(true);
  });

  it("passes a 400 through as it is, without failover", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1", "k2"]));
    upstream.reply({
      status: 400,
      headers: { "x-request-id": "r1" },
      body: { error: "bad request" },
    });
    const res = await call(`${gw.url}/p/x`, KEY, { method: "POST", body: "{}" });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-request-id")).toBe("r1");
    expect(await res.json()).toEqual({ error: "bad request" });
    expect(upstream.seen).toHaveLength(1);
  });

  it("never replays once the answer has started: a stream cut mid-way reaches the client cut", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1", "k2"]));
    upstream.reply((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 1\n\n", () => res.socket?.destroy());
    });
    const res = await call(`${gw.url}/p/stream`, KEY);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    expect(upstream.seen).toHaveLength(1);
  });

  it("answers 502 when no upstream can be reached", async () => {
    upstream = await startUpstream();
    const url = upstream.url;
    await upstream.close();
    gw = await startGateway(keysConfig(url, ["k1"]));
    const res = await call(`${gw.url}/p/x`, KEY);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe(
      "upstream_unreachable",
    );
  });
});

describe("gateway: bodies, timeouts, streams", () => {
  it("refuses a body over server.max_body_bytes with 413 before any credential is used", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1"], "  max_body_bytes: 100"));
    const res = await call(`${gw.url}/p/x`, KEY, { method: "POST", body: "x".repeat(101) });
    expect(res.status).toBe(413);
    // A chunked body (no length given) is counted as it arrives.
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("y".repeat(60)));
        controller.enqueue(new TextEncoder().encode("y".repeat(60)));
        controller.close();
      },
    });
    const chunked = await call(`${gw.url}/p/x`, KEY, {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit & { headers?: Record<string, string> });
    expect(chunked.status).toBe(413);
    upstream.reply({ status: 200 });
    expect(
      (await call(`${gw.url}/p/x`, KEY, { method: "POST", body: "x".repeat(100) })).status,
    ).toBe(200);
    expect(upstream.seen).toHaveLength(1);
  });

  it("answers 504 when the upstream does not answer within server.upstream_timeout", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1"], "  upstream_timeout: 100ms"));
    const closed = deferred();
    upstream.reply((_req, res) => {
      res.on("close", () => closed.resolve());
    });
    const res = await call(`${gw.url}/p/slow`, KEY);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe("upstream_timeout");
    await closed.promise;
  });

  it("a client that disconnects aborts the upstream request, without penalising the credential", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1"]));
    const upstreamClosed = deferred();
    upstream.reply((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: first\n\n");
      res.on("close", () => upstreamClosed.resolve());
    });
    const client = new AbortController();
    const res = await call(`${gw.url}/p/stream`, KEY, { signal: client.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toBe("data: first\n\n");
    client.abort();
    await upstreamClosed.promise;
    const info = gw.gateway.managers.get("p")?.getCredentialHealthInfo("key-1");
    expect(info?.failureCount).toBe(0);
    expect(info?.state).toBe("healthy");
  });

  it("a client that leaves before the upstream answers aborts the attempt, with no failover and no penalty", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1", "k2"]));
    const arrived = deferred();
    const upstreamClosed = deferred();
    upstream.reply((_req, res) => {
      arrived.resolve();
      res.on("close", () => upstreamClosed.resolve());
    });
    const client = new AbortController();
    const pending = call(`${gw.url}/p/slow`, KEY, { signal: client.signal });
    await arrived.promise;
    client.abort();
    await expect(pending).rejects.toThrow();
    await upstreamClosed.promise;
    const manager = gw.gateway.managers.get("p");
    expect(manager?.getCredentialHealthInfo("key-1")?.failureCount).toBe(0);
    expect(await manager?.exportPrometheusText()).toContain(
      'oauthmanager_calls_total{provider="p",outcome="aborted"} 1\n',
    );
    expect(upstream.seen).toHaveLength(1);
    expect(upstream.unexpected).toEqual([]);
  });

  it("streams SSE events in order as they come: event 1 reaches the client before event 2 is sent", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1"]));
    const clientGotFirst = deferred();
    let sentSecond = false;
    upstream.reply(async (_req, res: ServerResponse) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write("data: 1\n\n");
      await clientGotFirst.promise;
      sentSecond = true;
      res.write("data: 2\n\n");
      res.end("data: [DONE]\n\n");
    });
    const res = await call(`${gw.url}/p/stream`, KEY);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const first = decoder.decode((await reader.read()).value);
    expect(first).toBe("data: 1\n\n");
    expect(sentSecond).toBe(false);
    clientGotFirst.resolve();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += decoder.decode(value);
    }
    expect(rest).toBe("data: 2\n\ndata: [DONE]\n\n");
  });
});

describe("gateway: endpoints", () => {
  it("/healthz and /readyz are open; /status and /metrics need a client or admin key", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["secret-upstream-key"]));
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, providers: { p: true } });
    expect((await fetch(`${gw.url}/status`)).status).toBe(401);
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(401);
    // Probes that succeed stay out of the log; a refused read does not.
    await vi.waitFor(() =>
      expect(gw?.logs).toContainEqual(expect.stringMatching(/^GET - \/metrics 401 - \d+ms$/)),
    );
    expect(gw.logs.some((l) => / \/(healthz|readyz) /.test(l))).toBe(false);

    upstream.reply({ status: 200, body: {} });
    await call(`${gw.url}/p/x`, KEY);
    const status = await call(`${gw.url}/status`, KEY);
    expect(status.status).toBe(200);
    expect(status.headers.get("cache-control")).toBe("no-store");
    const doc = (await status.json()) as {
      generated_at: string;
      providers: Record<string, { credentials: Record<string, Record<string, unknown>> }>;
    };
    expect(doc.generated_at).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z$/);
    const cred = doc.providers.p?.credentials["key-1"];
    expect(cred).toMatchObject({
      id: "key-1",
      state: "healthy",
      request_count: 1,
      disabled: false,
    });
    expect(typeof cred?.latency_p95).toBe("number");
    expect(JSON.stringify(doc)).not.toContain("secret-upstream-key");

    const metrics = await call(`${gw.url}/metrics`, ADMIN);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('oauthmanager_requests_total{provider="p",credential="key-1"} 1');
    expect(text).toContain(
      'oauthmanager_gateway_request_duration_seconds_count{provider="p",status="200"} 1',
    );
    expect(text).not.toContain("secret-upstream-key");
  });

  it("serves the status page without a key, with its CSP and no caching", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1"]));
    const page = await fetch(`${gw.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await page.text()).toContain("<html");
  });

  it("/admin disables, enables and refreshes a credential, behind the admin key", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1", "k2"]));
    const admin = (path: string, key = ADMIN) => call(`${gw?.url}${path}`, key, { method: "POST" });
    expect((await admin("/admin/providers/p/credentials/key-1/disable", KEY)).status).toBe(401);
    const off = await admin("/admin/providers/p/credentials/key-1/disable");
    expect(await off.json()).toEqual({ provider: "p", id: "key-1", disabled: true });
    upstream.reply({ status: 200 }, { status: 200 });
    await call(`${gw.url}/p/x`, KEY);
    await call(`${gw.url}/p/x`, KEY);
    expect(upstream.seen.map((s) => s.token)).toEqual(["k2", "k2"]);
    const status = (await (await call(`${gw.url}/status`, KEY)).json()) as {
      providers: {
        p: { credentials: Record<string, { disabled: boolean; is_available: boolean }> };
      };
    };
    expect(status.providers.p.credentials["key-1"]).toMatchObject({
      disabled: true,
      is_available: false,
    });
    await admin("/admin/providers/p/credentials/key-1/enable");
    upstream.reply({ status: 200 }, { status: 200 });
    await call(`${gw.url}/p/x`, KEY);
    await call(`${gw.url}/p/x`, KEY);
    expect(new Set(upstream.seen.slice(2).map((s) => s.token))).toEqual(new Set(["k1", "k2"]));
    expect((await admin("/admin/providers/p/credentials/nope/enable")).status).toBe(404);
    // An API key has nothing to refresh with: the refresh fails, named, without the key.
    const refresh = await admin("/admin/providers/p/credentials/key-1/refresh");
    expect(refresh.status).toBe(502);
    expect(await refresh.text()).not.toContain('k1"');
    expect((await fetch(`${gw.url}/admin/reload`)).status).toBe(401);
  });
});

describe("gateway: reload", () => {
  it("reloads under load without losing a request; new requests use the new configuration", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1"]));
    const release = deferred();
    const arrived: (() => void)[] = [];
    const allArrived = new Promise<void>((resolve) => {
      let n = 0;
      for (let i = 0; i < 10; i++) {
        arrived.push(() => {
          if (++n === 10) resolve();
        });
      }
    });
    for (let i = 0; i < 10; i++) {
      upstream.reply(async (_req, res) => {
        arrived[i]?.();
        await release.promise;
        res.writeHead(200, { "content-type": "application/json" }).end(`{"n":${i}}`);
      });
    }
    const inFlight = Array.from({ length: 10 }, () => call(`${gw?.url}/p/x`, KEY));
    await allArrived;
    gw.setConfig(keysConfig(upstream.url, ["k9"]));
    const reloaded = await call(`${gw.url}/admin/reload`, ADMIN, { method: "POST" });
    expect(await reloaded.json()).toEqual({ reloaded: true });
    upstream.reply({ status: 200, body: {} });
    expect((await call(`${gw.url}/p/x`, KEY)).status).toBe(200);
    expect(upstream.seen.at(-1)?.token).toBe("k9");
    release.resolve();
    const answers = await Promise.all(inFlight);
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(upstream.seen.slice(0, 10).every((s) => s.token === "k1")).toBe(true);
  });

  it("refuses an invalid configuration with its paths and keeps serving the old one", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1"]));
    gw.setConfig(`
server:
  client_keys: []
providers:
  p:
    upstream: ${upstream.url}
    api_keys: ["k2"]
    selection: fastest
`);
    const res = await call(`${gw.url}/admin/reload`, ADMIN, { method: "POST" });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { issues: { path: string }[] } };
    expect(body.error.issues.map((i) => i.path)).toEqual(["providers.p.selection"]);
    expect(
      gw.logs.some((l) => l.includes("reload refused") && l.includes("providers.p.selection")),
    ).toBe(true);
    // Valid YAML that cannot serve: refused too, naming the path.
    gw.setConfig(`providers:\n  p:\n    upstream: ${upstream.url}\n    api_keys: ["k2"]\n`);
    const noKeys = (await (
      await call(`${gw.url}/admin/reload`, ADMIN, { method: "POST" })
    ).json()) as {
      error: { issues: { path: string }[] };
    };
    expect(noKeys.error.issues.map((i) => i.path)).toEqual(["server.client_keys"]);
    upstream.reply({ status: 200 });
    expect((await call(`${gw.url}/p/x`, KEY)).status).toBe(200);
    expect(upstream.seen[0]?.token).toBe("k1");
  });

  it("keeps a provider's manager, with its state, when its configuration did not change", async () => {
    upstream = await startUpstream();
    gw = await startGateway(keysConfig(upstream.url, ["k1", "k2"]));
    const before = gw.gateway.managers.get("p");
    before?.disableCredential("key-1");
    gw.setConfig(
      `${keysConfig(upstream.url, ["k1", "k2"])}  q:\n    upstream: ${upstream.url}\n    api_keys: ["q1"]\n`,
    );
    expect((await gw.gateway.reload()).ok).toBe(true);
    expect(gw.gateway.managers.get("p")).toBe(before);
    expect([...gw.gateway.managers.keys()]).toEqual(["p", "q"]);
    // A changed provider gets a new manager; the disabled credential stays disabled.
    gw.setConfig(keysConfig(upstream.url, ["k1", "k2", "k3"]));
    expect((await gw.gateway.reload()).ok).toBe(true);
    const after = gw.gateway.managers.get("p");
    expect(after).not.toBe(before);
    expect(after?.isCredentialDisabled("key-1")).toBe(true);
  });
});
