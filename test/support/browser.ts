/**
 * Starts the system's Chromium (Debian's `chromium` package) through playwright-core, for the
 * browser tests. The browser is never downloaded (`playwright install` is not used): `.ci/run`
 * installs the package when it is missing, and a machine without it fails the test with the
 * command that installs it.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { type Browser, chromium, type LaunchOptions } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

const BINARIES = ["chromium", "chromium-browser"];

/**
 * Flags for a headless Chromium in a container, as root, without a GPU; the `--disable-*` ones
 * stop its own calls to the network (updates, sync, safe browsing lists), so a test sees only
 * the requests of the page under test.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** The Chromium binary: `CHROMIUM_PATH` when set, else `chromium` on the `PATH`. */
export function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    for (const name of BINARIES) {
      const file = join(dir, name);
      try {
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        // not in this folder
      }
    }
  }
  throw new Error(
    "Chromium was not found on the PATH, and the browser tests need it. Install it with " +
      "`apt-get update && apt-get install -y chromium` (Debian; .ci/run does this when it is " +
      "missing), or set CHROMIUM_PATH to a Chromium binary. Never `playwright install`.",
  );
}

/** Launches the system's headless Chromium; close it in `afterAll`. */
export function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    ...options,
    executablePath: chromiumPath(),
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}

/**
 * One Chromium for the test file: launched in `beforeAll`, closed in `afterAll`. The returned
 * function gives it to a test; when the launch failed (no Chromium), it throws that error, so
 * every test fails with how to install it instead of being skipped.
 */
export function useChromium(options: LaunchOptions = {}): () => Browser {
  let browser: Browser | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      browser = await launchChromium(options);
    } catch (error) {
      failure = error;
    }
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (browser) return browser;
    throw failure ?? new Error("Chromium is launched in beforeAll: call the getter inside a test");
  };
}
