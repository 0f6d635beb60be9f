import { afterEach, describe, expect, it } from "vitest";
import {
  CHAT_PATH,
  type SimulatedProvider,
  type SimulatedProviderOptions,
  startSimulatedProvider,
} from "./simulated-provider.js";

let sim: SimulatedProvider | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** A clock the test moves by hand. */
function clock(start = 1_750_000_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

async function start(options: SimulatedProviderOptions): Promise<SimulatedProvider> {
  sim = await startSimulatedProvider({ faultRate: 0, ...options });
  return sim;
}

function refresh(provider: SimulatedProvider, refreshToken: string, grantType = "refresh_token") {
  return fetch(provider.tokenUrl, {
    method: "POST",
    body: new URLSearchParams({ grant_type: grantType, refresh_token: refreshToken }),
  });
}

function chat(provider: SimulatedProvider, token: string | undefined, stream = false) {
  return fetch(`${provider.origin}${CHAT_PATH}`, {
    method: "POST",
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], stream }),
  });
}

interface Grant {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
}

describe("the simulated provider's token endpoint", () => {
  it("rotates the refresh token on every grant and refuses a rotated-out one", async () => {
    const p = await start({ tokenLifetimeMs: 25_000 });
    const first = p.signUp("account-a", 1_000);

    const res1 = await refresh(p, first.refreshToken);
    expect(res1.status).toBe(200);
    const g1 = (await res1.json()) as Grant;
    expect(g1).toMatchObject({ token_type: "Bearer", expires_in: 25 });
    expect(g1.refresh_token).not.toBe(first.refreshToken);
    expect(g1.access_token).not.toBe(first.accessToken);

    const reused = await refresh(p, first.refreshToken);
    expect(reused.status).toBe(400);
    expect(await reused.json()).toEqual({
      error: "invalid_grant",
      error_description: "refresh token already used",
    });

    const res2 = await refresh(p, g1.refresh_token);
    expect(res2.status).toBe(200);
    const g2 = (await res2.json()) as Grant;
    expect(g2.refresh_token).not.toBe(g1.refresh_token);
    expect((await refresh(p, g1.refresh_token)).status).toBe(400);
    expect(p.counts).toMatchObject({ tokenGrants: 2, reusedRefreshTokens: 2 });
  });

  it("refuses an unknown refresh token and another grant type without counting a reuse", async () => {
    const p = await start({});
    const first = p.signUp("account-a", 1_000);
    const unknown = await refresh(p, "sim-rt-never-issued");
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: "invalid_grant" });
    const wrongGrant = await refresh(p, first.refreshToken, "password");
    expect(wrongGrant.status).toBe(400);
    expect(await wrongGrant.json()).toEqual({ error: "unsupported_grant_type" });
    // The refused requests spent nothing: the token still works once.
    expect((await refresh(p, first.refreshToken)).status).toBe(200);
    expect(p.counts).toMatchObject({ tokenGrants: 1, reusedRefreshTokens: 0 });
  });
});

describe("the simulated provider's API", () => {
  it("serves a live access token, and refuses a missing, unknown or expired one with 401", async () => {
    const time = clock();
    const p = await start({ now: time.now });
    const { accessToken } = p.signUp("account-a", 5_000);
    const ok = await chat(p, accessToken);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ object: "chat.completion" });
    expect((await chat(p, undefined)).status).toBe(401);
    expect((await chat(p, "sim-at-made-up")).status).toBe(401);
    time.advance(5_000);
    const expired = await chat(p, accessToken);
    expect(expired.status).toBe(401);
    expect(expired.headers.get("www-authenticate")).toContain("invalid_token");
    expect(p.counts).toMatchObject({ apiRequests: 4, unauthorized: 3 });
  });

  it("streams Server-Sent Events ending with [DONE] when asked to", async () => {
    const p = await start({});
    const { accessToken } = p.signUp("account-a", 60_000);
    const res = await chat(p, accessToken, true);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = (await res.text()).split("\n\n").filter(Boolean);
    expect(events.length).toBeGreaterThan(2);
    expect(events.at(-1)).toBe("data: [DONE]");
    for (const event of events.slice(0, -1)) {
      expect(JSON.parse(event.slice("data: ".length))).toMatchObject({
        object: "chat.completion.chunk",
      });
    }
    expect(p.counts.streams).toBe(1);
  });

  it("answers 429 with Retry-After or 503, one account at a time, never the same one twice in a row", async () => {
    const time = clock();
    // The draws of each request: its latency, whether it fails, then 429 (below 0.5) or 503.
    const draws: number[] = [];
    const p = await start({
      now: time.now,
      faultRate: 0.5,
      faultSpacingMs: 3_000,
      retryAfterSeconds: 7,
      random: () => draws.shift() ?? 0,
    });
    const a = p.signUp("account-a", 600_000).accessToken;
    const b = p.signUp("account-b", 600_000).accessToken;

    const limited = await chat(p, a);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    // Within the spacing no account gets one.
    expect((await chat(p, b)).status).toBe(200);
    time.advance(3_000);
    // The same account is not next.
    expect((await chat(p, a)).status).toBe(200);
    // A draw at or above the rate is no fault.
    draws.push(0, 0.5);
    expect((await chat(p, b)).status).toBe(200);
    draws.push(0, 0.49, 0.5);
    const unavailable = await chat(p, b);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get("retry-after")).toBeNull();
    expect(p.counts).toMatchObject({ rateLimited: 1, unavailable: 1, apiRequests: 5 });
  });
});
