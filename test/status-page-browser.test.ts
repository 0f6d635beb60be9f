/**
 * The status page in a real browser (the system's Chromium): served with its own
 * Content-Security-Policy by a small node:http server that fakes `/status`, on a clock the test
 * moves (playwright's fake clock), so that nothing waits on real time.
 */
import { mkdirSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { BrowserContextOptions, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { statusPage } from "../src/gateway/status-page/page.js";
import { useChromium } from "./support/browser.js";
import { closeServer } from "./support/close-server.js";
import { statusCredential } from "./support/status-credential.js";

const KEY = "client-key+/=1";
const HOSTILE_ID = "<img src=x onerror=alert(1)>";
const HOSTILE_PROVIDER = "<b>bold</b>";
const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/", import.meta.url));

/** The server's time at the first answer; the browser's clock is set 3 hours off it. */
const T0 = Date.parse("2026-12-01T10:00:00.000Z");
const BROWSER_T0 = T0 + 3 * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** What the fake gateway answers; each test sets what it needs. */
interface World {
  serverTime: number;
  requests: number;
  /** Answer `/status` with this status instead of the data. */
  failWith: number | undefined;
  hostile: boolean;
  statusCalls: number;
}
let world: World;

function provider(name: string, list: Record<string, unknown>[]): Record<string, unknown> {
  const count = (f: (c: Record<string, unknown>) => boolean) => list.filter(f).length;
  const requests = list.reduce((sum, c) => sum + (c.request_count as number), 0);
  const successes = list.reduce(
    (sum, c) => sum + (c.request_count as number) * (c.success_rate as number),
    0,
  );
  return {
    provider: name,
    total_credentials: list.length,
    healthy_credentials: count((c) => c.is_healthy === true),
    unhealthy_credentials: count((c) => c.is_healthy !== true),
    credentials_in_backoff: count((c) => c.is_available !== true),
    total_requests: requests,
    success_rate: requests === 0 ? 1 : successes / requests,
    credentials: Object.fromEntries(list.map((c) => [c.id, c])),
  };
}

function snapshot(): Record<string, unknown> {
  const now = T0;
  const gemini = [
    statusCredential("gemini-work", {
      request_count: world.requests,
      success_rate: 0.987,
      latency_p95: 850,
      expires_at: iso(now + 10 * 60_000),
    }),
    statusCredential("gemini-personal", {
      state: "cooling",
      is_available: false,
      failure_count: 2,
      request_count: 40,
      success_rate: 0.5,
      latency_p95: 1250,
      backoff_until: iso(now + 30_000),
      expires_at: iso(now + 45 * 60_000),
    }),
    statusCredential("gemini-old", {
      state: "needs_reauth",
      is_healthy: false,
      is_available: false,
      refresh_fail_count: 1,
      expires_at: iso(now - 3 * 60_000),
    }),
  ];
  const anthropic = [
    statusCredential("key-1", { request_count: 1234, latency_p95: 0.4 }),
    statusCredential("key-2", {
      state: "unhealthy",
      is_healthy: false,
      failure_count: 5,
      request_count: 9,
      success_rate: 0.4444,
      latency_p95: 15_200,
      marked_for_rotation: true,
    }),
    statusCredential("a-credential-id-long-enough-to-push-a-phone-screen-sideways-if-it-could", {
      disabled: true,
    }),
  ];
  if (world.hostile) anthropic.push(statusCredential(HOSTILE_ID, { request_count: 3 }));
  const providers: Record<string, unknown> = {
    gemini: provider("gemini", gemini),
    anthropic: provider("anthropic", anthropic),
  };
  if (world.hostile) providers[HOSTILE_PROVIDER] = provider(HOSTILE_PROVIDER, []);
  return { generated_at: iso(world.serverTime), providers };
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  if (req.method === "GET" && url.pathname === "/") {
    const page = statusPage();
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": page.contentSecurityPolicy,
    });
    res.end(page.html);
    return;
  }
  if (req.method === "GET" && url.pathname === "/status") {
    world.statusCalls++;
    if (req.headers.authorization !== `Bearer ${KEY}`) {
      res.writeHead(401, { "content-type": "application/json", "www-authenticate": "Bearer" });
      res.end('{"error":"unauthorized"}');
      return;
    }
    if (world.failWith !== undefined) {
      res.writeHead(world.failWith).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(snapshot()));
    return;
  }
  // the favicon and anything else
  res.writeHead(404).end();
}

const browser = useChromium();
let server: Server;
let origin: string;
const opened: { page: Page; problems: string[] }[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (server) await closeServer(server);
});

beforeEach(() => {
  world = { serverTime: T0, requests: 7, failWith: undefined, hostile: false, statusCalls: 0 };
});

afterEach(async () => {
  // No test may leave the page broken: a CSP violation, an uncaught error, a console error
  // other than a failed request, or a dialog (which a script injected through a credential id
  // would open) fails it.
  for (const { page, problems } of opened.splice(0)) {
    const violations = await page.evaluate(() => window.cspViolations ?? ["not recorded"]);
    await page.context().close();
    expect([...problems, ...violations]).toEqual([]);
  }
});

// The page's globals that the functions this file runs in the browser use. The project compiles
// without the DOM library (it would turn Node's timer types into the browser's everywhere).
declare const window: { readonly innerWidth: number; cspViolations?: string[]; mark?: string };
declare const document: {
  readonly documentElement: { readonly scrollWidth: number };
  addEventListener(
    type: "securitypolicyviolation",
    listener: (event: { violatedDirective: string; blockedURI: string }) => void,
  ): void;
};
declare const location: { readonly href: string; readonly hash: string };
declare const sessionStorage: { getItem(key: string): string | null };

const KEY_ITEM = "oauthmanager-status-key";

/** Opens the page on a paused fake clock that is 3 hours off the server's. */
async function open(hash = "", options: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser().newContext({
    viewport: { width: 1280, height: 800 },
    ...options,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  opened.push({ page, problems });
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    const failedRequest = message.text().startsWith("Failed to load resource");
    if (message.type() === "error" && !failedRequest) problems.push(`console: ${message.text()}`);
  });
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.addInitScript(() => {
    const violations: string[] = [];
    window.cspViolations = violations;
    document.addEventListener("securitypolicyviolation", (event) =>
      violations.push(`CSP ${event.violatedDirective}: ${event.blockedURI}`),
    );
  });
  await page.clock.install({ time: BROWSER_T0 - 1000 });
  await page.clock.pauseAt(BROWSER_T0);
  await page.goto(`${origin}/${hash}`);
  return page;
}

/** Moves the browser's and the server's clocks on together, firing the page's timers. */
async function advance(page: Page, ms: number): Promise<void> {
  world.serverTime += ms;
  await page.clock.runFor(ms);
}

/**
 * Moves both clocks on by one poll interval and waits for that poll's answer to be on the page,
 * as the time of its last update. One interval at a time: a fetch takes real time, and a bigger
 * jump of the fake clock would fire the page's request timeout first.
 */
async function nextPoll(page: Page, ms = 2000): Promise<void> {
  await advance(page, ms);
  await page.locator(`#updated-at[datetime="${iso(world.serverTime)}"]`).waitFor({
    timeout: 10_000,
  });
}

/** Waits until the element of `locator` has exactly the text `expected`; else says what it has. */
async function waitForText(locator: Locator, expected: string): Promise<void> {
  const exactly = new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  try {
    await locator.filter({ hasText: exactly }).waitFor({ timeout: 10_000 });
  } catch (error) {
    const seen = await locator.allTextContents();
    throw new Error(
      `expected ${JSON.stringify(expected)}, the page shows ${JSON.stringify(seen)}`,
      {
        cause: error,
      },
    );
  }
}

/** A provider's section, found as assistive technology finds it: a region named after it. */
function providerRegion(page: Page, provider: string): Locator {
  return page.getByRole("region", { name: provider, exact: true });
}

/** A credential's row, by the row header that holds its id. */
function credentialRow(page: Page, provider: string, id: string): Locator {
  return providerRegion(page, provider)
    .getByRole("row")
    .filter({ has: page.getByRole("rowheader", { name: id, exact: true }) });
}

function cell(page: Page, provider: string, id: string, column: string): Locator {
  return credentialRow(page, provider, id).locator(`[data-column="${column}"]`);
}

function connection(page: Page): Locator {
  return page.locator("#connection-state");
}

const withKey = `#key=${encodeURIComponent(KEY)}`;

describe("the status page in Chromium", () => {
  it("lists every credential, takes the key out of the address bar, and updates with no reload", async () => {
    const page = await open(withKey);
    await waitForText(cell(page, "gemini", "gemini-work", "requests"), "7");

    expect(await page.getByRole("rowheader").allTextContents()).toEqual([
      "gemini-work",
      "gemini-personal",
      "gemini-old",
      "key-1",
      "key-2",
      "a-credential-id-long-enough-to-push-a-phone-screen-sideways-if-it-could",
    ]);
    expect(await page.locator("section h2").allTextContents()).toEqual(["gemini", "anthropic"]);
    expect(await page.getByRole("columnheader").first().textContent()).toBe("Credential");
    const address = await page.evaluate(() => ({ href: location.href, hash: location.hash }));
    expect(address.hash).toBe("");
    expect(address.href).not.toContain("key");
    expect(await page.evaluate((item) => sessionStorage.getItem(item), KEY_ITEM)).toBe(KEY);

    // every column of a credential in each state, and the providers' summaries
    const row = (provider: string, id: string) =>
      credentialRow(page, provider, id).getByRole("cell").allTextContents();
    expect(await row("gemini", "gemini-work")).toEqual([
      "Healthy",
      "—",
      "in 10m 00s",
      "7",
      "98.7%",
      "850 ms",
    ]);
    expect(await row("gemini", "gemini-personal")).toEqual([
      "Cooling down2 failures",
      "30s left",
      "in 45m 00s",
      "40",
      "50.0%",
      "1.25 s",
    ]);
    expect(await row("gemini", "gemini-old")).toEqual([
      "Needs re-auth1 failed refresh",
      "—",
      "expired 3m 00s ago",
      "0",
      "—",
      "—",
    ]);
    expect(await row("anthropic", "key-1")).toEqual([
      "Healthy",
      "—",
      "—",
      "1,234",
      "100%",
      "<1 ms",
    ]);
    expect(await row("anthropic", "key-2")).toEqual([
      "Unhealthy5 failures · rotating out",
      "—",
      "—",
      "9",
      "44.4%",
      "15.2 s",
    ]);
    expect(
      await row(
        "anthropic",
        "a-credential-id-long-enough-to-push-a-phone-screen-sideways-if-it-could",
      ),
    ).toEqual(["Disabled", "—", "—", "0", "—", "—"]);
    expect(await page.locator(".summary").allTextContents()).toEqual([
      "2 of 3 healthy · 2 unavailable · 47 requests · 57.2% success",
      "2 of 3 healthy · 0 unavailable · 1,243 requests · 99.5% success",
    ]);
    await page.screenshot({ path: `${ARTIFACTS}status-page.png`, fullPage: true });

    // New traffic on the server shows up at the next poll, in the same document.
    await page.evaluate(() => {
      window.mark = "same document";
    });
    const callsBefore = world.statusCalls;
    world.requests = 4321;
    await nextPoll(page);
    await waitForText(cell(page, "gemini", "gemini-work", "requests"), "4,321");
    expect(world.statusCalls).toBe(callsBefore + 1);
    expect(await page.evaluate(() => window.mark)).toBe("same document");
  });

  it("counts down on the server's clock although the browser's is 3 hours off", async () => {
    const page = await open(withKey);
    const backoff = cell(page, "gemini", "gemini-personal", "backoff");
    const expires = cell(page, "gemini", "gemini-work", "expires");
    await waitForText(backoff, "30s left");
    await waitForText(expires, "in 10m 00s");

    // one second on, between two polls: the page ticks on its own
    const calls = world.statusCalls;
    await advance(page, 1000);
    await waitForText(backoff, "29s left");
    await waitForText(expires, "in 9m 59s");
    expect(world.statusCalls).toBe(calls);

    // half a minute on, poll after poll: the backoff is over
    await nextPoll(page, 1000);
    for (let elapsed = 2000; elapsed < 30_000; elapsed += 2000) await nextPoll(page);
    await waitForText(backoff, "ended");
    await waitForText(expires, "in 9m 30s");
  });

  it("asks for the key: without one, after a 401, and loads the data once it is entered", async () => {
    const page = await open();
    await page.locator("#key-form").waitFor({ state: "visible" });
    expect(await page.locator("#key-error").isHidden()).toBe(true);
    expect(world.statusCalls).toBe(0);

    await page.getByLabel("Client key").fill("a-wrong-key");
    await page.getByRole("button", { name: "Show status" }).click();
    await page.locator("#key-error").waitFor({ state: "visible" });
    expect(await page.locator("#key-error").textContent()).toContain("refused this key");
    await page.screenshot({ path: `${ARTIFACTS}status-page-key-refused.png` });
    expect(await page.evaluate((item) => sessionStorage.getItem(item), KEY_ITEM)).toBeNull();

    await page.getByLabel("Client key").fill(KEY);
    await page.getByLabel("Client key").press("Enter");
    await waitForText(cell(page, "anthropic", "key-1", "requests"), "1,234");
    expect(await page.locator("#key-form").isHidden()).toBe(true);

    // the tab keeps its key across a reload
    await page.reload();
    await waitForText(cell(page, "anthropic", "key-1", "requests"), "1,234");
  });

  it("a refused key from the link is not kept, and the rest of the fragment stays", async () => {
    const page = await open("#key=not-the-key&view=1");
    await page.locator("#key-error").waitFor({ state: "visible" });
    expect(await page.evaluate(() => location.hash)).toBe("#view=1");
    expect(await page.evaluate((item) => sessionStorage.getItem(item), KEY_ITEM)).toBeNull();
  });

  it("shows ids and provider names with HTML in them as text", async () => {
    world.hostile = true;
    const page = await open(withKey);
    await waitForText(cell(page, "anthropic", HOSTILE_ID, "requests"), "3");
    expect(await providerRegion(page, HOSTILE_PROVIDER).locator("h2").textContent()).toBe(
      HOSTILE_PROVIDER,
    );
    expect(await page.locator("main img, main b").count()).toBe(0);
  });

  it("says when the connection is lost, keeps the last data, and comes back", async () => {
    const page = await open(withKey);
    await waitForText(connection(page), "Live");
    expect(await page.locator("#updated").textContent()).toMatch(/^Last update .+ \(just now\)$/);

    world.failWith = 503;
    await advance(page, 2000);
    await waitForText(
      connection(page),
      "Connection lost: the gateway answered HTTP 503. Retrying every 2 s.",
    );
    expect(await page.locator("#updated").textContent()).toMatch(/\(2s ago\)$/);
    expect(await page.locator("#providers[data-stale] section").count()).toBe(2);
    await page.screenshot({ path: `${ARTIFACTS}status-page-connection-lost.png` });
    expect(await cell(page, "gemini", "gemini-work", "requests").textContent()).toBe("7");

    world.failWith = undefined;
    world.requests = 8;
    await nextPoll(page);
    await waitForText(connection(page), "Live");
    await waitForText(cell(page, "gemini", "gemini-work", "requests"), "8");
  });

  it("fits a 375 px phone screen with no horizontal scrolling, light and dark", async () => {
    for (const colorScheme of ["light", "dark"] as const) {
      const page = await open(withKey, {
        viewport: { width: 375, height: 800 },
        colorScheme,
        isMobile: true,
        hasTouch: true,
        deviceScaleFactor: 2,
      });
      await waitForText(cell(page, "gemini", "gemini-work", "requests"), "7");
      const widths = await page.evaluate(() => ({
        document: document.documentElement.scrollWidth,
        viewport: window.innerWidth,
      }));
      expect(widths).toEqual({ document: 375, viewport: 375 });
      // on a card too, the state is told in words
      expect(
        await credentialRow(page, "gemini", "gemini-personal").locator(".badge").textContent(),
      ).toBe("Cooling down");
      await page.screenshot({
        path: `${ARTIFACTS}status-page-phone-${colorScheme}.png`,
        fullPage: true,
      });
    }
  });
});
