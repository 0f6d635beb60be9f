/**
 * The real gateway's status page in Chromium, in front of a scripted upstream: the page lists the
 * pool's credentials, and after traffic through the gateway its request counts change with no
 * reload. The page's clock is playwright's: the test fires the next poll itself.
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Locator, Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { useChromium } from "./support/browser.js";
import { call, startGateway, type TestGateway } from "./support/gateway.js";
import { startUpstream, type Upstream } from "./support/upstream.js";

const KEY = "page-client-key-0123456789";
const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/", import.meta.url));
const POLL_MS = 2000;

const browser = useChromium();
let upstream: Upstream | undefined;
let gw: TestGateway | undefined;
let page: Page | undefined;

afterEach(async () => {
  await page?.context().close();
  page = undefined;
  await gw?.close();
  gw = undefined;
  await upstream?.close();
  upstream = undefined;
});

function requestsCell(p: Page, provider: string, id: string): Locator {
  return p
    .getByRole("region", { name: provider, exact: true })
    .getByRole("row")
    .filter({ has: p.getByRole("rowheader", { name: id, exact: true }) })
    .locator('[data-column="requests"]');
}

/** Waits until `locator` shows exactly `text`; playwright polls the page, bounded. */
function showing(locator: Locator, text: string): Promise<void> {
  return locator.filter({ hasText: new RegExp(`^${text}$`) }).waitFor({ timeout: 10_000 });
}

/** Each credential's request count, as the gateway's `/status` reports it. */
async function requestCounts(url: string): Promise<Record<string, number>> {
  const doc = (await (await call(`${url}/status`, KEY)).json()) as {
    providers: { p: { credentials: Record<string, { request_count: number }> } };
  };
  return Object.fromEntries(
    Object.entries(doc.providers.p.credentials).map(([id, c]) => [id, c.request_count]),
  );
}

describe("the real gateway's status page in Chromium", () => {
  it("lists the credentials, and a value changes after traffic, with no reload", async () => {
    upstream = await startUpstream();
    gw = await startGateway(`
server:
  client_keys: ["${KEY}"]
providers:
  p:
    upstream: ${upstream.url}
    api_keys: ["upstream-key-1", "upstream-key-2"]
`);
    const context = await browser().newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    await page.clock.install();
    await page.clock.pauseAt(Date.now() + 1000);
    await page.goto(`${gw.url}/#key=${KEY}`);

    await showing(requestsCell(page, "p", "key-1"), "0");
    await showing(requestsCell(page, "p", "key-2"), "0");
    expect(await page.getByRole("rowheader").allTextContents()).toEqual(["key-1", "key-2"]);
    expect(page.url()).not.toContain(KEY);
    // A mark on this document: gone if the page were loaded again.
    await page.evaluate(() => {
      (globalThis as { loadedOnce?: boolean }).loadedOnce = true;
    });

    upstream.reply(...Array.from({ length: 3 }, () => ({ status: 200, body: { ok: true } })));
    for (let i = 0; i < 3; i++) {
      expect((await call(`${gw.url}/p/v1/chat`, KEY, { method: "POST", body: "{}" })).status).toBe(
        200,
      );
    }
    const counts = await requestCounts(gw.url);
    expect((counts["key-1"] ?? 0) + (counts["key-2"] ?? 0)).toBe(3);

    // The first poll's answer is on the page, so the next one is due in one interval.
    await page.clock.runFor(POLL_MS);
    await showing(requestsCell(page, "p", "key-1"), String(counts["key-1"]));
    await showing(requestsCell(page, "p", "key-2"), String(counts["key-2"]));
    expect(await page.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce)).toBe(
      true,
    );
    expect(problems).toEqual([]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}status-page-gateway.png`, fullPage: true });
  });
});
