/**
 * Canary secrets in every shape a token endpoint's or an HTTP client's error carries them must
 * reach none of: the thrown error, the event payloads, the logs, the webhook body received by a
 * real receiver on 127.0.0.1.
 */

import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import type { OAuthCredentialSet } from "../src/types.js";
import { closeServer } from "./support/close-server.js";

// A Google refresh token holds `/`, `+` and `=`, which change under URL encoding.
const REFRESH = "1//0gCANARY-RT+ab/cd=";
const ACCESS = "ya29.CANARY-AT-0001";
const CLIENT_ID = "123-abc.apps.example.com";
const CLIENT_SECRET = "GOCSPX-CANARY-CS/+=";
const BASIC = Buffer.from(
  `${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`,
).toString("base64");

/** Every form a canary could leak in. */
const FORBIDDEN = [
  "CANARY",
  BASIC,
  ...[REFRESH, ACCESS, CLIENT_SECRET].flatMap((s) => [
    encodeURIComponent(s),
    new URLSearchParams({ x: s }).toString().slice(2),
  ]),
];

/** What a refresh function (or an operation) throws, by shape. */
const SHAPES: Record<string, () => Error> = {
  "form body": () =>
    Object.assign(
      new Error(
        `token endpoint answered 400 to ${new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: REFRESH,
          client_secret: CLIENT_SECRET,
        })}`,
      ),
      { status: 400 },
    ),
  "percent-encoded in the message": () =>
    new Error(`refresh_token=${encodeURIComponent(REFRESH)} rejected`),
  "Basic header": () =>
    Object.assign(new Error(`401 for Authorization: Basic ${BASIC}`), {
      config: { headers: { Authorization: `Basic ${BASIC}` } },
    }),
  "Map of headers": () =>
    Object.assign(new Error("request failed"), {
      request: { headers: new Map([["authorization", `Bearer ${ACCESS}`]]) },
    }),
  "fetch Headers": () =>
    Object.assign(new Error("request failed"), {
      response: { headers: new Headers({ "x-echo-token": REFRESH }) },
    }),
  "deeply nested": () => {
    const root: Record<string, unknown> = {};
    let node = root;
    for (let i = 0; i < 30; i++) {
      const next: Record<string, unknown> = {};
      node.inner = next;
      node = next;
    }
    node.body = `refresh_token=${encodeURIComponent(REFRESH)}`;
    return Object.assign(new Error("deep"), { response: root });
  },
};

interface Receiver {
  url: string;
  bodies: string[];
  waitFor(n: number): Promise<void>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const bodies: string[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    bodies.push(`${body} ${JSON.stringify(req.headers)} ${req.url}`);
    for (const w of waiters.filter((w) => bodies.length >= w.n)) w.resolve();
    res.writeHead(200).end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    waitFor: (n) =>
      bodies.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ n, resolve })),
    close: () => closeServer(server),
  };
}

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const show = (v: unknown) => {
  let json = "";
  try {
    json = JSON.stringify(v);
  } catch {
    // a cycle: inspect still shows everything
  }
  return `${inspect(v, { depth: Number.POSITIVE_INFINITY })} ${json}`;
};

describe("a canary secret in every shape stays out of every output", () => {
  it("thrown refresh errors, refresh_failure and failure events, logs and webhook bodies", async () => {
    receiver = await startReceiver();
    const names = Object.keys(SHAPES);
    const creds: OAuthCredentialSet[] = names.map((_, i) => ({
      id: `cred-${i}`,
      accessToken: ACCESS,
      refreshToken: REFRESH,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    }));
    const captured: string[] = [];
    const log = (...args: unknown[]) => captured.push(args.map(show).join(" "));
    const m = new OAuthKeyManager(
      "gemini",
      creds,
      async (cred) => {
        throw (SHAPES[names[Number(cred.id.slice(5))] as string] as () => Error)();
      },
      {
        logger: { warn: log, error: log },
        monitoring: {
          webhookUrl: receiver.url,
          allowPrivateWebhookTargets: true,
          webhookEvents: ["failure", "refresh"],
          alertOnHighFailureRate: false,
          failureRateThreshold: 0.25,
          alertOnRefreshFailure: true,
          alertOnExpirySoon: false,
          expiryWarningTime: 0,
        },
      },
    );
    m.on("refresh_failure", (payload) => captured.push(show(payload)));
    m.on("failure", (payload) => captured.push(show(payload)));

    const errors: unknown[] = [];
    for (const cred of creds) {
      await m.refreshCredential(cred.id, { force: true }).catch((e: unknown) => errors.push(e));
    }
    for (const name of names) {
      await m
        .executeWithFailover(
          async () => {
            // A 5xx fails over; a 4xx other than 401 would be rethrown as the caller's own error.
            throw Object.assign((SHAPES[name] as () => Error)(), { status: 503 });
          },
          { maxAttempts: 1 },
        )
        .catch((e: unknown) => errors.push(e));
    }
    await receiver.waitFor(names.length);
    await m.close();

    expect(errors).toHaveLength(names.length * 2);
    expect(
      captured.filter((c) => c.includes("refresh_failure") || c.includes("RefreshError")),
    ).not.toHaveLength(0);
    const outputs = [...captured, ...errors.map(show), ...receiver.bodies];
    for (const [i, output] of outputs.entries()) {
      for (const form of FORBIDDEN) {
        expect(output.includes(form), `output ${i} shows ${form}:\n${output}`).toBe(false);
      }
    }
  });

  it("the monitoring config the manager returns, and a failed delivery's log line", async () => {
    const answered: string[] = [];
    const server = createServer((req, res) => {
      answered.push(req.url ?? "");
      req.resume();
      res.writeHead(400).end();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    receiver = { url: "", bodies: [], waitFor: async () => {}, close: () => closeServer(server) };
    const port = (server.address() as AddressInfo).port;
    // Slack and Discord keep the webhook's secret in its path.
    const url = `http://127.0.0.1:${port}/services/T000/CANARY-PATH?token=CANARY-QUERY`;
    const webhookSecret = `whsec_${Buffer.from("CANARY-WEBHOOK-SECRET-bytes-0001").toString("base64")}`;
    const captured: string[] = [];
    const log = (...args: unknown[]) => captured.push(args.map(show).join(" "));
    const m = new OAuthKeyManager("gemini", [{ id: "a", accessToken: ACCESS }], undefined, {
      logger: { warn: log, error: log },
      monitoring: {
        webhookUrl: url,
        webhookSecret,
        allowPrivateWebhookTargets: true,
        webhookEvents: ["failure"],
        alertOnHighFailureRate: true,
        failureRateThreshold: 0.1,
        alertOnRefreshFailure: true,
        alertOnExpirySoon: false,
        expiryWarningTime: 0,
      },
    });
    const config = m.getMonitoringConfig();
    expect(config.webhookSecret).toBe(webhookSecret);
    captured.push(show(config), show(m.getHealthSummary()));
    for (let i = 0; i < 10; i++) m.recordRequest("a", 0, 1, false);
    expect(m.checkAlerts()).toHaveLength(1);
    await m.close();

    expect(answered).toHaveLength(1);
    expect(captured.some((line) => line.includes(`http://127.0.0.1:${port}`))).toBe(true);
    const all = captured.join("\n");
    for (const form of ["CANARY", webhookSecret.slice(6), "T000"]) {
      expect(all).not.toContain(form);
    }
  });
});
