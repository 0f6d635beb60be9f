/**
 * `oauthmanager status`: the pool per provider, from a running gateway (`--url`) or from the
 * configuration's store (`--config`); `--json` for scripts.
 * @module
 */

import { painter, useColor } from "../terminal.js";
import { UsageError } from "./args.js";
import { type Command, EXIT_OK } from "./command.js";
import { atMost, CONFIG_OPTION, openPool, stringOption } from "./config-file.js";
import { fetchReport, localReport, type StatusReport } from "./status-source.js";
import { renderReport } from "./status-view.js";

/** How long `status --url` waits for the gateway. */
const GATEWAY_TIMEOUT_MS = 10_000;

/** The environment variable holding the gateway client key for `status --url`. */
export const KEY_ENV = "OAUTHMANAGER_KEY";

/** The `status` command. */
export const statusCommand: Command = {
  name: "status",
  args: "--config FILE | --url URL",
  summary: "show each credential's state, backoff, expiry, traffic and latency",
  options: {
    config: { ...CONFIG_OPTION, description: "read the pool from this configuration's store" },
    url: {
      type: "string",
      valueName: "URL",
      description: "read the pool from a running gateway's /status (as http://127.0.0.1:8787)",
    },
    key: {
      type: "string",
      valueName: "KEY",
      description: `the gateway's client key for --url (better: set ${KEY_ENV})`,
    },
    json: {
      type: "boolean",
      description: "print the report as JSON (the gateway's /status shape)",
    },
  },
  async run(args, values, output) {
    atMost("status", args, 0, "no arguments");
    const config = stringOption(values, "config");
    const url = stringOption(values, "url");
    if ((config === undefined) === (url === undefined)) {
      throw new UsageError("status needs one of --config FILE or --url URL", "status");
    }
    let report: StatusReport;
    let source: string;
    if (url !== undefined) {
      const base = gatewayUrl(url);
      const key = stringOption(values, "key") ?? nonEmpty(process.env[KEY_ENV]);
      if (key === undefined) {
        throw new UsageError(
          `status --url needs the gateway's client key: set ${KEY_ENV} (or give --key)`,
          "status",
        );
      }
      report = await fetchReport(base, key, AbortSignal.timeout(GATEWAY_TIMEOUT_MS));
      source = `from the gateway at ${base.origin}`;
    } else {
      if (values.key !== undefined)
        throw new UsageError("--key goes with --url, not --config", "status");
      const pool = await openPool(config as string);
      try {
        report = localReport(pool.managers, new Date());
      } finally {
        await pool.close();
      }
      source = `from ${pool.store ? `the ${pool.config.store?.type} store of ` : ""}${config} (no traffic figures outside a running gateway)`;
    }
    if (values.json) {
      output.out(JSON.stringify(report, null, 2));
      return EXIT_OK;
    }
    const paint = painter(useColor(process.stdout.isTTY));
    for (const line of renderReport(report, Date.now(), paint, source)) output.out(line);
    return EXIT_OK;
  },
};

function gatewayUrl(text: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError(
      "--url must be an http:// or https:// URL, as http://127.0.0.1:8787",
      "status",
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new UsageError(
      `--url must not carry a user name or password: set ${KEY_ENV} instead`,
      "status",
    );
  }
  return url;
}

const nonEmpty = (v: string | undefined) => (v === undefined || v === "" ? undefined : v);
