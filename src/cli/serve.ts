/**
 * `oauthmanager serve`: the gateway, from a configuration file, until SIGTERM or SIGINT. SIGHUP
 * reloads the file; an invalid one is refused and the running configuration keeps serving.
 * @module
 */
import { loadConfig } from "../config/parse.js";
import { Gateway } from "../gateway/gateway.js";
import { UsageError } from "./args.js";
import { type Command, EXIT_FAILURE, EXIT_OK, type Output } from "./command.js";
import { batchLines } from "./line-batch.js";
import { reportFailure } from "./report.js";

/** Signals `serve` answers, and the process events it would otherwise die of. */
const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** The `serve` command. */
export const serveCommand: Command = {
  name: "serve",
  args: "--config FILE [--host H] [--port N]",
  summary: "run the HTTP gateway in front of every provider's pool",
  options: {
    config: {
      type: "string",
      short: "c",
      valueName: "FILE",
      description: "the configuration file",
    },
    host: {
      type: "string",
      valueName: "H",
      description: "the address to listen on (default: server.host, else 127.0.0.1)",
    },
    port: {
      type: "string",
      valueName: "N",
      description: "the port (default: server.port, else 8787; 0 picks a free one)",
    },
  },
  async run(args, values, output) {
    if (args.length > 0)
      throw new UsageError(`serve takes no argument, got ${args.length}`, "serve");
    const path = typeof values.config === "string" ? values.config : undefined;
    if (path === undefined) {
      throw new UsageError(
        "serve needs a configuration file: oauthmanager serve --config FILE",
        "serve",
      );
    }
    const port = portOption(values.port);
    const host = typeof values.host === "string" ? values.host : undefined;
    // One write per burst of requests rather than one per request.
    const log = batchLines(output.out);
    let gateway: Gateway;
    try {
      const config = await loadConfig(path);
      gateway = await Gateway.start(config, {
        load: () => loadConfig(path),
        ...(host === undefined ? {} : { host }),
        ...(port === undefined ? {} : { port }),
        log,
      });
    } catch (e) {
      log.close();
      reportFailure(e, output);
      return EXIT_FAILURE;
    }
    output.out(`oauthmanager gateway listening on ${gateway.url}`);
    try {
      return await serveUntilStopped(gateway, output);
    } finally {
      log.close();
    }
  },
};

/** Resolves with the exit code once a stop signal has drained and closed the gateway. */
function serveUntilStopped(gateway: Gateway, output: Output): Promise<number> {
  return new Promise((resolve) => {
    const reload = () => {
      void gateway.reload();
    };
    const stop = (signal: string) => {
      output.out(`${signal}: draining requests in flight`);
      process.off("SIGHUP", reload);
      for (const s of STOP_SIGNALS) process.off(s, stop);
      gateway.close().then(
        () => resolve(EXIT_OK),
        (e: unknown) => {
          reportFailure(e, output);
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on("SIGHUP", reload);
    for (const s of STOP_SIGNALS) process.on(s, stop);
  });
}

function portOption(value: string | true | undefined): number | undefined {
  if (typeof value !== "string") return undefined;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65_535)) {
    throw new UsageError("option --port needs a whole number from 0 to 65535", "serve");
  }
  return port;
}
