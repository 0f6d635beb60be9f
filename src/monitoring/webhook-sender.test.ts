import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { closeServer } from "../../test/support/close-server.js";
import { ConfigError } from "../errors.js";
import type { Logger, WebhookEvent } from "../types.js";
import { type DeliveryInfo, WebhookSender, type WebhookSenderOptions } from "./webhook-sender.js";

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, index: number) => void;

/** A webhook receiver on 127.0.0.1 that records every request. */
async function startReceiver(handler: Handler) {
  const requests: Received[] = [];
  const closedConnections: number[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const index = requests.length;
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.on("close", () => closedConnections.push(index));
      for (const w of [...waiters]) {
        if (requests.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      handler(req, res, index);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  servers.push(server);
  return {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    closedConnections,
    /** Resolves once `n` requests have arrived. */
    waitFor(n: number): Promise<void> {
      if (requests.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

const servers: http.Server[] = [];
const senders: WebhookSender[] = [];

afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close({ timeoutMs: 0 })));
  await Promise.all(servers.splice(0).map(closeServer));
});

function capturingLogger() {
  const lines: string[] = [];
  const logger: Logger = {
    warn: (m: string, ...args: unknown[]) => lines.push([m, ...args.map(String)].join(" ")),
    error: (m: string, ...args: unknown[]) => lines.push([m, ...args.map(String)].join(" ")),
  };
  return { logger, lines };
}

/** A sender whose outcomes can be awaited. */
function makeSender(opts: Partial<WebhookSenderOptions> & { url: string }) {
  const delivered: { event: WebhookEvent; info: DeliveryInfo }[] = [];
  const failed: { event: WebhookEvent; info: DeliveryInfo }[] = [];
  const waiters: (() => void)[] = [];
  const settle = () => {
    for (const w of waiters.splice(0)) w();
  };
  const sender = new WebhookSender({
    allowPrivateTargets: true,
    retryBaseMs: 1,
    logger: capturingLogger().logger,
    onDelivered: (event, info) => {
      delivered.push({ event, info });
      settle();
    },
    onFailed: (event, info) => {
      failed.push({ event, info });
      settle();
    },
    ...opts,
  });
  senders.push(sender);
  return {
    sender,
    delivered,
    failed,
    /** Resolves once `n` events were delivered or failed. */
    async settled(n: number): Promise<void> {
      while (delivered.length + failed.length < n) {
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

const secret = `whsec_${randomBytes(32).toString("base64")}`;

function event(overrides: Partial<WebhookEvent> = {}): WebhookEvent {
  return {
    type: "failure",
    credentialId: "account-1",
    timestamp: new Date("2025-01-15T10:30:00Z"),
    message: "High failure rate detected: 35.0%",
    details: { failure_rate: 0.35, success_rate: 0.65, total_requests: 100, error_count: 35 },
    ...overrides,
  };
}

const ok: Handler = (_req, res) => res.writeHead(200).end("ok");

describe("WebhookSender delivery", () => {
  it("posts the JSON body with Standard Webhooks headers", async () => {
    const rx = await startReceiver(ok);
    const s = makeSender({ url: rx.url, secret });
    expect(s.sender.enqueue(event())).toBe(true);
    await s.settled(1);

    expect(rx.requests).toHaveLength(1);
    const req = rx.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.url).toBe("/hook");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["user-agent"]).toBe("oauthmanager");
    expect(req.headers["webhook-id"]).toMatch(/^msg_[A-Za-z0-9_-]+$/);
    expect(req.headers["webhook-timestamp"]).toMatch(/^\d+$/);
    expect(req.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(JSON.parse(req.body)).toEqual({
      type: "failure",
      credential_id: "account-1",
      timestamp: "2025-01-15T10:30:00Z",
      message: "High failure rate detected: 35.0%",
      details: { failure_rate: 0.35, success_rate: 0.65, total_requests: 100, error_count: 35 },
    });
    expect(Object.keys(JSON.parse(req.body))).toEqual([
      "type",
      "credential_id",
      "timestamp",
      "message",
      "details",
    ]);
    expect(s.delivered[0]?.info).toMatchObject({ attempts: 1, status: 200 });
    expect(s.sender.stats()).toMatchObject({ sent: 1, failed: 0, queued: 0, inFlight: 0 });
  });

  it("signs the exact bytes sent: the receiver's secret verifies, another does not", async () => {
    const rx = await startReceiver(ok);
    const s = makeSender({ url: rx.url, secret });
    s.sender.enqueue(event({ message: "ünïcode ✓" }));
    await s.settled(1);
    const req = rx.requests[0]!;
    const headers = {
      "webhook-id": String(req.headers["webhook-id"]),
      "webhook-timestamp": String(req.headers["webhook-timestamp"]),
      "webhook-signature": String(req.headers["webhook-signature"]),
    };
    expect(new Webhook(secret).verify(req.body, headers)).toMatchObject({ message: "ünïcode ✓" });
    const other = `whsec_${randomBytes(32).toString("base64")}`;
    expect(() => new Webhook(other).verify(req.body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(`${req.body} `, headers)).toThrow();
  });

  it("sends details {} when the event has none, and no signature without a secret", async () => {
    const rx = await startReceiver(ok);
    const s = makeSender({ url: rx.url });
    const { details: _omit, ...bare } = event();
    s.sender.enqueue(bare);
    await s.settled(1);
    expect(JSON.parse(rx.requests[0]!.body).details).toEqual({});
    expect(rx.requests[0]!.headers["webhook-signature"]).toBeUndefined();
    expect(rx.requests[0]!.headers["webhook-id"]).toMatch(/^msg_/);
  });

  it("retries 500, 500, then 200: three requests with the same webhook-id", async () => {
    const rx = await startReceiver((_req, res, i) => res.writeHead(i < 2 ? 500 : 200).end());
    const s = makeSender({ url: rx.url, secret });
    s.sender.enqueue(event());
    await s.settled(1);
    expect(rx.requests).toHaveLength(3);
    const ids = new Set(rx.requests.map((r) => r.headers["webhook-id"]));
    expect(ids.size).toBe(1);
    expect(s.delivered[0]?.info.attempts).toBe(3);
    expect(s.failed).toHaveLength(0);
    expect(s.sender.stats()).toMatchObject({ sent: 1, failed: 0 });
  });

  it("gives up after maxAttempts on a persistent 503 and reports the last status", async () => {
    const rx = await startReceiver((_req, res) => res.writeHead(503).end());
    const s = makeSender({ url: rx.url, maxAttempts: 3 });
    s.sender.enqueue(event());
    await s.settled(1);
    expect(rx.requests).toHaveLength(3);
    expect(s.failed[0]?.info).toMatchObject({ attempts: 3, status: 503, reason: "status" });
    expect(s.sender.stats()).toMatchObject({ failed: 1, queued: 0, inFlight: 0 });
  });

  it("retries a 429 and honours Retry-After up to maxRetryDelayMs", async () => {
    const rx = await startReceiver((_req, res, i) =>
      i === 0 ? res.writeHead(429, { "retry-after": "3600" }).end() : res.writeHead(204).end(),
    );
    // A one-hour Retry-After capped to 1 ms: the retry comes at once instead of in an hour.
    const s = makeSender({ url: rx.url, maxRetryDelayMs: 1 });
    s.sender.enqueue(event());
    await s.settled(1);
    expect(rx.requests).toHaveLength(2);
    expect(s.delivered[0]?.info).toMatchObject({ attempts: 2, status: 204 });
  });

  it("does not retry a 400", async () => {
    const rx = await startReceiver((_req, res) => res.writeHead(400).end("bad"));
    const s = makeSender({ url: rx.url });
    s.sender.enqueue(event());
    await s.settled(1);
    expect(rx.requests).toHaveLength(1);
    expect(s.failed[0]?.info).toMatchObject({ attempts: 1, status: 400, reason: "status" });
    // Nothing is waiting for a retry.
    expect(s.sender.stats()).toMatchObject({ queued: 0, inFlight: 0, failed: 1 });
  });

  it("does not follow a redirect: a 302 is a failure, since it would leave the checked address", async () => {
    const rx = await startReceiver((_req, res) =>
      res.writeHead(302, { location: "/elsewhere" }).end(),
    );
    const s = makeSender({ url: rx.url });
    s.sender.enqueue(event());
    await s.settled(1);
    expect(rx.requests.map((r) => r.url)).toEqual(["/hook"]);
    expect(s.failed[0]?.info).toMatchObject({ status: 302, reason: "status", attempts: 1 });
  });

  it("410 Gone disables the endpoint with one warning; later events are dropped as disabled", async () => {
    const rx = await startReceiver((_req, res) => res.writeHead(410).end());
    const { logger, lines } = capturingLogger();
    const s = makeSender({ url: rx.url, logger });
    s.sender.enqueue(event());
    await s.settled(1);
    expect(s.failed[0]?.info.reason).toBe("disabled");
    expect(s.sender.enqueue(event())).toBe(false);
    expect(s.sender.enqueue(event())).toBe(false);
    expect(rx.requests).toHaveLength(1);
    expect(s.sender.stats()).toMatchObject({ endpointDisabled: true, disabled: 2, failed: 1 });
    expect(lines.filter((l) => l.includes("410"))).toHaveLength(1);
    expect(lines).toHaveLength(1);
  });

  it("drops and counts events when the queue is full", async () => {
    const rx = await startReceiver(() => {
      // Never answers.
    });
    const { logger, lines } = capturingLogger();
    const s = makeSender({ url: rx.url, maxQueue: 2, timeoutMs: 60_000, logger });
    expect(s.sender.enqueue(event())).toBe(true); // in flight
    expect(s.sender.enqueue(event())).toBe(true);
    expect(s.sender.enqueue(event())).toBe(true);
    expect(s.sender.enqueue(event())).toBe(false);
    expect(s.sender.enqueue(event())).toBe(false);
    expect(s.sender.stats()).toMatchObject({ inFlight: 1, queued: 2, dropped: 2 });
    expect(lines.filter((l) => l.includes("queue full"))).toHaveLength(1);
    await rx.waitFor(1);
    await s.sender.close({ timeoutMs: 0 });
    // The hanging request was aborted and the two waiting events dropped: all counted as dropped.
    expect(s.sender.stats()).toMatchObject({ inFlight: 0, queued: 0, dropped: 5, failed: 0 });
    expect(s.failed.map((f) => f.info.reason)).toEqual(["closed", "closed", "closed"]);
  });

  it("aborts an attempt to a hanging receiver after timeoutMs", async () => {
    const rx = await startReceiver(() => {
      // Never answers.
    });
    const s = makeSender({ url: rx.url, timeoutMs: 50, maxAttempts: 2 });
    s.sender.enqueue(event());
    await s.settled(1);
    expect(s.failed[0]?.info).toMatchObject({ reason: "timeout", attempts: 2 });
    expect(rx.requests).toHaveLength(2);
    // Both connections were closed by the sender's abort.
    await vi.waitFor(() => expect(rx.closedConnections.sort()).toEqual([0, 1]));
  });

  it("close() waits for a receiver that never answers only until closeTimeoutMs, then drops", async () => {
    const rx = await startReceiver(() => {
      // Never answers.
    });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      // The attempt timeout is far longer than the close limit: only the latter may end close().
      const s = makeSender({ url: rx.url, timeoutMs: 60_000 });
      s.sender.enqueue(event());
      s.sender.enqueue(event());
      await rx.waitFor(1);
      let closed = false;
      void s.sender.close().then(() => {
        closed = true;
      });
      await vi.advanceTimersByTimeAsync(1_999);
      expect(closed).toBe(false);
      expect(s.sender.stats()).toMatchObject({ inFlight: 1, queued: 1 });
      await vi.advanceTimersByTimeAsync(1);
      await vi.waitFor(() => expect(closed).toBe(true));
      expect(s.sender.stats()).toMatchObject({
        inFlight: 0,
        queued: 0,
        sent: 0,
        failed: 0,
        dropped: 2,
      });
      expect(s.failed.map((f) => f.info.reason)).toEqual(["closed", "closed"]);
      // The hanging request's connection was closed by the abort.
      await vi.waitFor(() => expect(rx.closedConnections).toEqual([0]));
    } finally {
      vi.useRealTimers();
    }
  });

  it("closeTimeoutMs is an option of the sender; close({ timeoutMs }) overrides it", async () => {
    const rx = await startReceiver(() => {
      // Never answers.
    });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const s = makeSender({ url: rx.url, timeoutMs: 60_000, closeTimeoutMs: 500 });
      s.sender.enqueue(event());
      await rx.waitFor(1);
      let closed = false;
      void s.sender.close().then(() => {
        closed = true;
      });
      await vi.advanceTimersByTimeAsync(499);
      expect(closed).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await vi.waitFor(() => expect(closed).toBe(true));

      const t = makeSender({ url: rx.url, timeoutMs: 60_000, closeTimeoutMs: 500 });
      t.sender.enqueue(event());
      await rx.waitFor(2);
      let tClosed = false;
      void t.sender.close({ timeoutMs: 5_000 }).then(() => {
        tClosed = true;
      });
      await vi.advanceTimersByTimeAsync(4_999);
      expect(tClosed).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await vi.waitFor(() => expect(tClosed).toBe(true));
      expect(t.sender.stats().dropped).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("retries network errors and then fails with reason network", async () => {
    const rx = await startReceiver(ok);
    const url = rx.url;
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    const s = makeSender({ url, maxAttempts: 2 });
    s.sender.enqueue(event());
    await s.settled(1);
    expect(s.failed[0]?.info).toMatchObject({ reason: "network", attempts: 2 });
  });

  it("close() flushes pending events, including one waiting for a retry", async () => {
    const rx = await startReceiver((_req, res, i) => res.writeHead(i === 0 ? 500 : 200).end());
    // A long backoff: without the flush the retry would wait a minute.
    const s = makeSender({ url: rx.url, retryBaseMs: 60_000, random: () => 1 });
    for (let i = 0; i < 4; i++) s.sender.enqueue(event({ credentialId: `c${i}` }));
    await s.sender.close();
    expect(s.sender.stats()).toMatchObject({ sent: 4, failed: 0, queued: 0, inFlight: 0 });
    const ids = rx.requests.map((r) => JSON.parse(r.body).credential_id);
    expect(ids.sort()).toEqual(["c0", "c0", "c1", "c2", "c3"]);
    expect(s.sender.enqueue(event())).toBe(false);
    expect(s.sender.stats().dropped).toBe(1);
    // Idempotent.
    await expect(s.sender.close()).resolves.toBeUndefined();
  });

  it("connects to the checked address and sends the URL's host in Host, so DNS rebinding cannot swap it", async () => {
    const rx = await startReceiver(ok);
    const lookups: string[] = [];
    const s = makeSender({
      url: `http://hooks.example.test:${rx.port}/hook?token=abc`,
      lookup: async (host) => {
        lookups.push(host);
        return [{ address: "127.0.0.1", family: 4 }];
      },
    });
    s.sender.enqueue(event());
    await s.settled(1);
    expect(lookups).toEqual(["hooks.example.test"]);
    expect(rx.requests[0]?.headers.host).toBe(`hooks.example.test:${rx.port}`);
    expect(rx.requests[0]?.url).toBe("/hook?token=abc");
  });

  it("over https pins the address and keeps the URL's name for SNI and certificate checks", async () => {
    const seen: https.RequestOptions[] = [];
    const spy = vi.spyOn(https, "request").mockImplementation(((opts: https.RequestOptions) => {
      seen.push(opts);
      // A request that fails at once, as a refused connection would.
      const req = Object.assign(new EventEmitter(), {
        end: () => queueMicrotask(() => req.emit("error", new Error("ECONNREFUSED"))),
      });
      return req;
    }) as unknown as typeof https.request);
    try {
      const s = makeSender({
        url: "https://hooks.example.test/hook?x=1",
        allowPrivateTargets: false,
        maxAttempts: 1,
        lookup: async () => [{ address: "93.184.216.34", family: 4 }],
      });
      s.sender.enqueue(event());
      await s.settled(1);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({
        host: "93.184.216.34",
        port: 443,
        path: "/hook?x=1",
        servername: "hooks.example.test",
        method: "POST",
        agent: false,
      });
      expect(seen[0]?.headers).toMatchObject({ host: "hooks.example.test" });
      expect(s.failed[0]?.info.reason).toBe("network");
    } finally {
      spy.mockRestore();
    }
  });

  it("refuses a host that resolves to a private address and sends nothing", async () => {
    const rx = await startReceiver(ok);
    const { logger, lines } = capturingLogger();
    const s = makeSender({
      url: `http://internal.example.test:${rx.port}/hook`,
      allowPrivateTargets: false,
      logger,
      lookup: async () => [{ address: "127.0.0.1", family: 4 }],
    });
    s.sender.enqueue(event());
    s.sender.enqueue(event());
    await s.settled(2);
    expect(rx.requests).toHaveLength(0);
    expect(s.failed.map((f) => f.info)).toMatchObject([
      { reason: "refused", attempts: 1 },
      { reason: "refused", attempts: 1 },
    ]);
    expect(lines.filter((l) => l.includes("refused"))).toHaveLength(1);
  });

  it("never logs the secret, the URL's path or query, or the response body", async () => {
    const rx = await startReceiver((_req, res) => res.writeHead(500).end("BODY-CANARY"));
    const { logger, lines } = capturingLogger();
    const s = makeSender({
      // Slack and Discord keep their secret in the path.
      url: `${rx.url}/T000/PATH-CANARY?token=QUERY-CANARY`,
      secret,
      logger,
      maxAttempts: 2,
    });
    s.sender.enqueue(event({ message: `contains ${secret}` }));
    await s.settled(1);
    expect(lines.length).toBeGreaterThan(0);
    const all = lines.join("\n");
    for (const canary of ["PATH-CANARY", "QUERY-CANARY", "BODY-CANARY", secret, secret.slice(6)]) {
      expect(all).not.toContain(canary);
    }
    expect(all).toContain(`http://127.0.0.1:${rx.port}`);
    expect(all).not.toContain("/hook");
    // The secret is redacted from the payload itself too.
    expect(rx.requests[0]!.body).not.toContain(secret);
    expect(JSON.stringify(s.failed)).not.toContain("BODY-CANARY");
  });

  it("enqueue never throws: an unserialisable event is dropped and counted", () => {
    const s = makeSender({ url: "http://127.0.0.1:9/hook" });
    expect(s.sender.enqueue(event({ timestamp: new Date(Number.NaN) }))).toBe(false);
    expect(s.sender.enqueue(null as unknown as WebhookEvent)).toBe(false);
    expect(s.sender.stats().dropped).toBe(2);
  });
});

describe("WebhookSender options", () => {
  it("rejects a bad URL or secret with ConfigError, never echoing them", () => {
    const bad = [
      { url: "ftp://example.com/x?token=CANARY" },
      { url: "https://user:CANARY@example.com/" },
      { url: "http://127.0.0.1/hook?t=CANARY" },
      { url: "https://example.com/", secret: "whsec_CANARY" },
      { url: "https://example.com/", secret: `whsec_${randomBytes(8).toString("base64")}` },
    ];
    for (const opts of bad) {
      let caught: unknown;
      try {
        new WebhookSender(opts);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect(String((caught as Error).message)).not.toContain("CANARY");
      if (opts.secret) expect((caught as Error).message).not.toContain(opts.secret.slice(6));
    }
  });

  it("rejects out-of-range numbers with RangeError", () => {
    const url = "https://example.com/hook";
    expect(() => new WebhookSender({ url, maxQueue: 0 })).toThrow(RangeError);
    expect(() => new WebhookSender({ url, maxAttempts: 1.5 })).toThrow(RangeError);
    expect(() => new WebhookSender({ url, timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new WebhookSender({ url, timeoutMs: 2 ** 31 })).toThrow(RangeError);
    expect(() => new WebhookSender({ url, retryBaseMs: Number.NaN })).toThrow(RangeError);
    expect(() => new WebhookSender({ url, closeTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => new WebhookSender({ url, closeTimeoutMs: 2 ** 31 })).toThrow(RangeError);
  });
});
