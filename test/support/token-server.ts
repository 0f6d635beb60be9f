/**
 * A local OAuth token endpoint for tests: counts requests, rotates refresh tokens, and can be told
 * to fail. Fails the test (via `unexpected`) on any request it does not understand.
 */

import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { OAuthCredentialSet, RefreshFunc } from "../../src/types.js";
import { closeServer } from "./close-server.js";

export interface TokenServerOptions {
  /** Seconds the issued tokens live. @default 3600 */
  expiresIn?: number;
  /** Rotate the refresh token on every refresh and reject reuse with invalid_grant. @default false */
  rotate?: boolean;
  /** Milliseconds to hold each response (lets concurrent callers pile up). @default 0 */
  delayMs?: number;
}

export interface TokenServer {
  url: string;
  /** Token requests received. */
  readonly calls: number;
  /** Requests the server did not expect. */
  readonly unexpected: string[];
  /** The next `n` refreshes answer with this status and OAuth error. */
  failNext(n: number, status: number, error: string): void;
  /** A refresh function that calls this endpoint with fetch; expiries are computed with `now`. */
  refreshFunc(now?: () => number): RefreshFunc;
  /** Declares `token` a valid refresh token. */
  allow(refreshToken: string): void;
  close(): Promise<void>;
}

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  let calls = 0;
  let counter = 0;
  const unexpected: string[] = [];
  const failures: { status: number; error: string }[] = [];
  const valid = new Set<string>();
  const server: Server = createServer(async (req, res) => {
    if (req.method !== "POST" || req.url !== "/token") {
      unexpected.push(`${req.method} ${req.url}`);
      res.writeHead(404).end();
      return;
    }
    calls++;
    const form = new URLSearchParams(await body(req));
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const failure = failures.shift();
    if (failure) {
      res.writeHead(failure.status, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: failure.error }));
      return;
    }
    const presented = form.get("refresh_token") ?? "";
    if (form.get("grant_type") !== "refresh_token" || !valid.has(presented)) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "invalid_grant" }));
      return;
    }
    counter++;
    const reply: Record<string, unknown> = {
      access_token: `at-${counter}`,
      token_type: "Bearer",
      expires_in: options.expiresIn ?? 3600,
    };
    if (options.rotate) {
      valid.delete(presented);
      const next = `rt-${counter}`;
      valid.add(next);
      reply.refresh_token = next;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(reply));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  return {
    url,
    get calls() {
      return calls;
    },
    unexpected,
    failNext(n, status, error) {
      for (let i = 0; i < n; i++) failures.push({ status, error });
    },
    allow(token) {
      valid.add(token);
    },
    refreshFunc(now = Date.now): RefreshFunc {
      return endpointRefreshFunc(url, now);
    },
    close: () => closeServer(server),
  };
}

/**
 * A refresh function that posts the refresh token to `url` (a token endpoint speaking RFC 6749
 * §6 in JSON) and takes `access_token`, `expires_in` and a rotated `refresh_token` from the answer.
 */
export function endpointRefreshFunc(url: string, now: () => number = Date.now): RefreshFunc {
  return async (cred, signal): Promise<OAuthCredentialSet> => {
    const res = await fetch(url, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: cred.refreshToken ?? "",
      }),
      signal,
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) {
      throw Object.assign(new Error(`token endpoint answered ${res.status}`), {
        status: res.status,
        oauthError: json.error,
      });
    }
    const next: OAuthCredentialSet = {
      ...cred,
      accessToken: String(json.access_token),
      expiresAt: new Date(now() + Number(json.expires_in) * 1000),
    };
    if (typeof json.refresh_token === "string") next.refreshToken = json.refresh_token;
    return next;
  };
}

async function body(req: IncomingMessage): Promise<string> {
  let data = "";
  for await (const chunk of req) data += chunk;
  return data;
}
