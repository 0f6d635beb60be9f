/**
 * oauthmanager in one file (`npm start`). Three OAuth credentials of one provider become one
 * reliable pool: requests are spread round-robin, a token about to expire is refreshed before it
 * is used, and a credential whose requests fail is put in backoff while another one serves.
 *
 * The provider is a fake on 127.0.0.1, started below, so the demo needs no network and no keys:
 *   POST /token        OAuth refresh_token grant: issues a new access token
 *   POST /v1/generate  the "AI" API: needs `Authorization: Bearer <access token>`;
 *                      answers 503 to every request made with the "broken" credential
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { OAuthCredentialSet, Operation, RefreshFunc } from "oauthmanager";
import { OAuthKeyManager } from "oauthmanager";

// ---- 1. The fake provider ----------------------------------------------------------------------
// It remembers which credential each token belongs to, the way a real provider knows its users.
const ids = ["team", "expiring", "broken"];
const ownerOfAccessToken = new Map(ids.map((id) => [`${id}-token-1`, id]));
const ownerOfRefreshToken = new Map(ids.map((id) => [`${id}-refresh`, id]));
let tokensIssued = 1;

const provider = createServer(async (req, res) => {
  const body = await readBody(req);
  if (req.method === "POST" && req.url === "/token") {
    const form = new URLSearchParams(body);
    const owner = ownerOfRefreshToken.get(form.get("refresh_token") ?? "");
    if (form.get("grant_type") !== "refresh_token" || !owner) {
      return reply(res, 400, { error: "invalid_grant" });
    }
    const accessToken = `${owner}-token-${++tokensIssued}`;
    ownerOfAccessToken.set(accessToken, owner);
    return reply(res, 200, { access_token: accessToken, token_type: "Bearer", expires_in: 3600 });
  }
  if (req.method === "POST" && req.url === "/v1/generate") {
    const owner = ownerOfAccessToken.get(req.headers.authorization?.slice("Bearer ".length) ?? "");
    if (!owner) return reply(res, 401, { error: "invalid_token" });
    if (owner === "broken") return reply(res, 503, { error: "overloaded" });
    const { prompt } = JSON.parse(body) as { prompt: string };
    const usage = { prompt_tokens: 4, completion_tokens: 9 };
    return reply(res, 200, { text: `a poem about ${prompt}`, usage });
  }
  reply(res, 404, { error: "not_found" });
});
provider.listen(0, "127.0.0.1");
await once(provider, "listening");
const baseUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;

// ---- 2. How to refresh a token -----------------------------------------------------------------
// A RefreshFunc trades the refresh token for a new access token. The manager calls it when the
// refresh strategy says so (by default: 5 minutes before expiry), once per credential however
// many requests are waiting for it.
const refresh: RefreshFunc = async (cred, signal) => {
  const form = { grant_type: "refresh_token", refresh_token: cred.refreshToken ?? "" };
  const res = await fetch(`${baseUrl}/token`, {
    method: "POST",
    body: new URLSearchParams(form),
    signal,
  });
  const json = (await res.json()) as { access_token: string; expires_in: number; error?: string };
  if (!res.ok) {
    // An `oauthError` of "invalid_grant" marks the grant dead: the credential needs re-auth.
    const details = { status: res.status, oauthError: json.error };
    throw Object.assign(new Error(`token endpoint answered ${res.status}`), details);
  }
  return { ...cred, accessToken: json.access_token, expiresAt: inSeconds(json.expires_in) };
};

// ---- 3. The pool -------------------------------------------------------------------------------
const credential = (id: string, expiresInSeconds: number): OAuthCredentialSet => ({
  id,
  accessToken: `${id}-token-1`,
  refreshToken: `${id}-refresh`,
  expiresAt: inSeconds(expiresInSeconds),
});
const credentials = [
  credential("team", 3600),
  // Expires in a minute: inside the 5-minute buffer, so it is refreshed before its first use.
  credential("expiring", 60),
  credential("broken", 3600),
];
const manager = new OAuthKeyManager("fake-ai", credentials, refresh);

// ---- 4. Events: what the pool does, as it happens (credentials are named by id, never by token) -
const time = (d: Date | undefined) => d?.toTimeString().slice(0, 8) ?? "-";
manager.on("refresh", (e) =>
  console.log(`  [refresh] ${e.credentialId}: new token, valid until ${time(e.expiresAt)}`),
);
manager.on("refresh_failure", (e) =>
  console.log(`  [refresh_failure] ${e.credentialId}: ${e.error.message}`),
);
manager.on("failure", (e) => {
  const why = e.error instanceof Error ? e.error.message : String(e.error);
  console.log(
    `  [failure] ${e.credentialId}: ${e.kind} (${why}), backoff until ${time(e.backoffUntil)}`,
  );
});

// ---- 5. Requests -------------------------------------------------------------------------------
// The caller's work: one API call with whichever credential the pool hands over.
const generate =
  (prompt: string): Operation<string> =>
  async (cred, signal) => {
    const res = await fetch(`${baseUrl}/v1/generate`, {
      method: "POST",
      headers: { authorization: `Bearer ${cred.accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ prompt }),
      signal,
    });
    // The error's `status` (and `headers`, for Retry-After) tells the manager what went wrong:
    // 401, 408, 429, 5xx and network errors fail over; any other 4xx is rethrown at once.
    if (!res.ok) {
      const details = { status: res.status, headers: res.headers };
      throw Object.assign(new Error(`HTTP ${res.status}`), details);
    }
    const json = (await res.json()) as { text: string; usage: Record<string, number> };
    const { prompt_tokens = 0, completion_tokens = 0 } = json.usage;
    return {
      result: json.text,
      usage: { promptTokens: prompt_tokens, completionTokens: completion_tokens },
    };
  };

for (let n = 1; n <= 9; n++) {
  const { result, credentialId, attempts } = await manager.executeWithFailover(generate(`#${n}`));
  console.log(
    `request ${n}: served by ${credentialId.padEnd(8)} attempts ${attempts}  "${result}"`,
  );
}

// ---- 6. Health ---------------------------------------------------------------------------------
// Each failed-over request used two credentials, so the credentials saw more calls than requests.
const { credentials: health, totalRequests, successRate } = manager.getHealthSummary();
const pct = (rate: number) => `${Math.round(rate * 100)}%`;
console.log(
  `\n${totalRequests} calls on credentials for 9 requests, ${pct(successRate)} succeeded`,
);
console.table(
  Object.values(health).map((c) => ({
    id: c.id,
    state: c.state,
    healthy: c.isHealthy,
    available: c.isAvailable,
    requests: c.requestCount,
    "success rate": pct(c.successRate),
    refreshes: c.refreshCount,
    failures: c.failureCount,
  })),
);

// ---- 7. Shut down: nothing is left running, so the process exits by itself --------------------
await manager.close();
provider.closeAllConnections();
provider.close();

// ---- helpers -----------------------------------------------------------------------------------
function inSeconds(s: number): Date {
  return new Date(Date.now() + s * 1000);
}

async function readBody(req: IncomingMessage): Promise<string> {
  let data = "";
  for await (const chunk of req) data += chunk;
  return data;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
