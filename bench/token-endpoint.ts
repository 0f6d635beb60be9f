/**
 * A local OAuth token endpoint for the stampede benchmark: answers every refresh_token grant
 * after a fixed delay and counts the calls.
 * @module
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { OAuthCredentialSet, RefreshFunc } from "oauthmanager";

export interface TokenEndpoint {
  /** Token requests received. */
  readonly calls: number;
  /** The access token the last refresh issued. */
  readonly lastIssued: string | undefined;
  /** A refresh function that posts the refresh token to this endpoint. */
  readonly refreshFunc: RefreshFunc;
  close(): Promise<void>;
}

/** Starts the endpoint on 127.0.0.1 (a free port); every answer waits `delayMs`. */
export async function startTokenEndpoint(delayMs: number): Promise<TokenEndpoint> {
  let calls = 0;
  let lastIssued: string | undefined;
  const server = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/token") {
      res.writeHead(404).end();
      return;
    }
    calls++;
    req.resume();
    req.on("end", () => {
      const timer = setTimeout(() => {
        lastIssued = `access-token-refreshed-${calls}`;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ access_token: lastIssued, token_type: "Bearer", expires_in: 3600 }),
        );
      }, delayMs);
      res.on("close", () => clearTimeout(timer));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;

  const refreshFunc: RefreshFunc = async (cred, signal) => {
    const res = await fetch(url, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: cred.refreshToken ?? "",
      }),
      signal,
    });
    if (!res.ok)
      throw Object.assign(new Error(`token endpoint answered ${res.status}`), {
        status: res.status,
      });
    const json = (await res.json()) as { access_token: string; expires_in: number };
    const next: OAuthCredentialSet = {
      ...cred,
      accessToken: json.access_token,
      expiresAt: new Date(Date.now() + json.expires_in * 1000),
    };
    return next;
  };

  return {
    get calls() {
      return calls;
    },
    get lastIssued() {
      return lastIssued;
    },
    refreshFunc,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
