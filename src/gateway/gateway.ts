/**
 * The gateway: one HTTP endpoint in front of every configured provider's pool. `/<provider>/…`
 * is proxied with a pooled credential; `/healthz`, `/readyz`, `/status`, `/metrics`, `/` and
 * `/admin/…` are answered here. Reloads swap the whole serving state at once, and requests
 * in flight finish on the state they started with.
 * @module
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { Agent } from "undici";
import type { OAuthManagerConfig } from "../config/types.js";
import { messageOf } from "../errors.js";
import type { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import { handleAdmin } from "./admin.js";
import { clientConnection } from "./connection.js";
import { forward } from "./forward.js";
import { joinedLines, type LinePieces, writeRequestLine } from "./log-lines.js";
import { RequestDurations } from "./request-durations.js";
import { type RequestOutcome, sendError, sendJson } from "./respond.js";
import { DEFAULT_HOST, DEFAULT_PORT } from "./settings.js";
import { buildState, type GatewayState, type ServedProvider, type Transition } from "./state.js";
import { readiness, statusDocument } from "./status.js";
import { statusPage } from "./status-page/page.js";

/** Options of {@link Gateway.start}. */
export interface GatewayOptions {
  /**
   * Reads the configuration again, for `reload()` (SIGHUP, `POST /admin/reload`). Without it,
   * reloading is refused.
   */
  load?: () => Promise<OAuthManagerConfig>;
  /** Wins over `server.host`. @default server.host, else "127.0.0.1" */
  host?: string;
  /** Wins over `server.port`; 0 picks a free port. @default server.port, else 8787 */
  port?: number;
  /**
   * Gets one line per request and each notice (reloads, shutdown), as a string per line or in
   * pieces. Never a key or token. @default no logging
   */
  log?: ((line: string) => void) | LinePieces;
}

/** How a reload went. */
export type ReloadResult = { ok: true } | { ok: false; error: unknown };

/** Paths polled or probed: logged only when they fail, so the log stays about traffic. */
const QUIET_PATHS: ReadonlySet<string> = new Set([
  "/",
  "/status",
  "/healthz",
  "/readyz",
  "/metrics",
]);

/** The running gateway. */
export class Gateway {
  /** `http://HOST:PORT`, the port the server really got. */
  readonly url: string;
  readonly #server: Server;
  /** One undici Agent: a keep-alive connection pool per upstream origin. */
  readonly #dispatcher: Agent;
  readonly #registry = new Registry();
  readonly #durations: RequestDurations;
  readonly #load: (() => Promise<OAuthManagerConfig>) | undefined;
  /** Undefined when nothing listens: no line is even formatted. */
  readonly #log: LinePieces | undefined;
  readonly #page = statusPage();
  #state: GatewayState;
  #reloading: Promise<ReloadResult> = Promise.resolve({ ok: true });
  readonly #retiring = new Set<Promise<void>>();
  #active = 0;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    server: Server,
    url: string,
    state: GatewayState,
    dispatcher: Agent,
    options: GatewayOptions,
  ) {
    this.#server = server;
    this.url = url;
    this.#state = state;
    this.#dispatcher = dispatcher;
    this.#load = options.load;
    const log = options.log;
    this.#log = typeof log === "function" ? joinedLines(log) : log;
    this.#durations = new RequestDurations(this.#registry);
    for (const manager of state.managers.values())
      manager.metricsCollector().register(this.#registry);
  }

  /**
   * Builds the managers and store of `config` and starts listening.
   * @throws {ConfigError} when the configuration cannot serve (no client key, a provider without
   *   an upstream, a reserved provider name), before anything listens
   * @throws the listen error (address in use, …)
   * @example
   * const gateway = await Gateway.start(await loadConfig("oauthmanager.yaml"), { port: 0 });
   * console.log(gateway.url);
   */
  static async start(config: OAuthManagerConfig, options: GatewayOptions = {}): Promise<Gateway> {
    const { state } = await buildState(config, undefined);
    const dispatcher = new Agent({ keepAliveTimeout: 30_000 });
    // Replaced once the gateway exists; requests cannot arrive before listen() anyway.
    let handle: (req: IncomingMessage, res: ServerResponse) => void = () => {};
    const server = createServer({ noDelay: true }, (req, res) => handle(req, res));
    const host = options.host ?? config.server?.host ?? DEFAULT_HOST;
    const port = options.port ?? config.server?.port ?? DEFAULT_PORT;
    try {
      server.listen(port, host);
      await once(server, "listening");
    } catch (err) {
      await closeAll([...state.managers.values()], state);
      await dispatcher.close();
      throw err;
    }
    const { port: bound } = server.address() as AddressInfo;
    const shownHost = host.includes(":") ? `[${host}]` : host;
    const gateway = new Gateway(server, `http://${shownHost}:${bound}`, state, dispatcher, options);
    handle = gateway.#handle;
    return gateway;
  }

  /** The managers serving now, by provider. */
  get managers(): ReadonlyMap<string, OAuthKeyManager> {
    return this.#state.managers;
  }

  /**
   * Reads the configuration again and serves with it: providers whose settings did not change
   * keep their managers; requests in flight finish on the old ones, which are then closed. An
   * invalid configuration is refused and the current one keeps serving. Reloads run one at a time.
   */
  reload(): Promise<ReloadResult> {
    this.#reloading = this.#reloading.then(() => this.#reload());
    return this.#reloading;
  }

  async #reload(): Promise<ReloadResult> {
    if (this.#closing) return { ok: false, error: new Error("the gateway is shutting down") };
    if (!this.#load) return { ok: false, error: new Error("this gateway cannot reload") };
    let transition: Transition;
    try {
      transition = await buildState(await this.#load(), this.#state);
    } catch (err) {
      this.#notice(`reload refused, the current configuration keeps serving: ${oneLine(err)}`);
      return { ok: false, error: err };
    }
    const old = this.#state;
    this.#state = transition.state;
    for (const manager of transition.state.managers.values()) {
      manager.metricsCollector().register(this.#registry);
    }
    for (const manager of transition.retiredManagers) {
      manager.metricsCollector().unregister(this.#registry);
    }
    this.#retire(old, transition);
    this.#notice("configuration reloaded");
    return { ok: true };
  }

  /** Closes what the old state no longer shares, once its requests are done. */
  #retire(old: GatewayState, transition: Transition): void {
    const done = old
      .idle()
      .then(() => closeAll(transition.retiredManagers, undefined))
      .then(() => transition.retiredStore?.close())
      .catch((err: unknown) =>
        this.#notice(`closing the previous configuration: ${messageOf(err)}`),
      )
      .finally(() => this.#retiring.delete(done));
    this.#retiring.add(done);
  }

  /**
   * Stops accepting connections, lets requests in flight finish (up to `server.drain_timeout`,
   * then cuts them off), closes the managers (which stores refreshed tokens and flushes
   * webhooks), the store and the upstream connections. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#reloading;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    if (this.#active > 0) {
      const drained = new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#state.settings.drainTimeoutMs);
        timer.unref();
      });
      await Promise.race([drained, deadline]);
      clearTimeout(timer);
    }
    this.#server.closeAllConnections();
    await closed;
    await Promise.all(this.#retiring);
    const state = this.#state;
    await closeAll([...state.managers.values()], state);
    await this.#dispatcher.close();
    this.#notice("gateway stopped");
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  readonly #handle = (req: IncomingMessage, res: ServerResponse): void => {
    void this.#serve(req, res);
  };

  /** One request, start to end: routed, answered, timed, logged; never rejects. */
  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const state = this.#state;
    state.enter();
    this.#active++;
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    // No provider is named like a path the gateway answers itself (see RESERVED_NAMES).
    const provider = this.#closing ? undefined : state.providers.get(providerName(path));
    let outcome: RequestOutcome;
    try {
      outcome = await (provider === undefined
        ? this.#route(req, res, path, state)
        : this.#proxy(req, res, provider, state));
    } catch (err) {
      this.#notice(`internal error on ${req.method} ${path}: ${messageOf(err)}`);
      if (res.headersSent) {
        res.destroy();
        outcome = { status: 500 };
      } else {
        outcome = sendError(res, 500, "internal_error", "internal error");
      }
    } finally {
      state.leave();
      this.#active--;
      if (this.#active === 0) this.#drained?.();
    }
    const seconds = (performance.now() - started) / 1000;
    const name = provider?.route.name;
    if (name !== undefined) this.#durations.observe(name, outcome.status, seconds);
    const log = this.#log;
    // A proxied request is never on a quiet path: no provider is named like one.
    const quiet = name === undefined && QUIET_PATHS.has(path) && outcome.status < 400;
    if (log !== undefined && !quiet) {
      const ms = Math.round(seconds * 1000);
      writeRequestLine(
        log,
        req.method ?? "-",
        name,
        path,
        outcome.status,
        outcome.credentialId,
        ms,
      );
    }
  }

  /** A line of its own: a reload, a shutdown, an internal error. */
  #notice(line: string): void {
    this.#log?.text(line).end();
  }

  /** A request for one provider: its client key checked, then proxied. */
  #proxy(
    req: IncomingMessage,
    res: ServerResponse,
    provider: ServedProvider,
    state: GatewayState,
  ): RequestOutcome | Promise<RequestOutcome> {
    const connection = clientConnection(req.socket, this.#dispatcher);
    if (!state.clientKeys.accepts(req.headers, connection)) return unauthorized(res);
    const rest = (req.url ?? "").slice(1 + provider.route.name.length);
    return forward(req, res, rest, provider, connection);
  }

  /** Every path that is not a provider's: the gateway's own answers. */
  #route(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    state: GatewayState,
  ): RequestOutcome | Promise<RequestOutcome> {
    if (this.#closing) {
      res.setHeader("connection", "close");
      return sendError(res, 503, "shutting_down", "the gateway is shutting down");
    }
    switch (path) {
      case "/":
        return this.#sendPage(res);
      case "/healthz":
        sendJson(res, 200, { status: "ok" });
        return { status: 200 };
      case "/readyz": {
        const providers = readiness(state.managers);
        const ready = Object.values(providers).every(Boolean);
        sendJson(res, ready ? 200 : 503, { ready, providers });
        return { status: ready ? 200 : 503 };
      }
      case "/status":
        if (!this.#mayRead(req, state)) return unauthorized(res);
        sendJson(res, 200, statusDocument(state.managers, new Date()));
        return { status: 200 };
      case "/metrics":
        if (!this.#mayRead(req, state)) return unauthorized(res);
        return this.#sendMetrics(res);
    }
    if (path === "/admin" || path.startsWith("/admin/")) {
      if (state.adminKeys === undefined) {
        return sendError(
          res,
          404,
          "not_found",
          "/admin is off: set server.admin_key to turn it on",
        );
      }
      if (!state.adminKeys.accepts(req.headers)) return unauthorized(res);
      return handleAdmin(req, res, path, state, () => this.reload());
    }
    return sendError(res, 404, "not_found", "no such provider or path");
  }

  async #sendMetrics(res: ServerResponse): Promise<RequestOutcome> {
    const text = await this.#registry.metrics();
    res.writeHead(200, {
      "content-type": this.#registry.contentType,
      "cache-control": "no-store",
    });
    res.end(text);
    return { status: 200 };
  }

  #mayRead(req: IncomingMessage, state: GatewayState): boolean {
    return (
      state.clientKeys.accepts(req.headers) || (state.adminKeys?.accepts(req.headers) ?? false)
    );
  }

  #sendPage(res: ServerResponse): RequestOutcome {
    const page = this.#page;
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": page.contentSecurityPolicy,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    });
    res.end(page.html);
    return { status: 200 };
  }
}

/** The first segment of `path`: the provider a proxied request names. */
function providerName(path: string): string {
  const slash = path.indexOf("/", 1);
  return path.slice(1, slash === -1 ? undefined : slash);
}

/** An error's message with its issues on the same line: one log line per event. */
function oneLine(err: unknown): string {
  return messageOf(err)
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .join("; ");
}

function unauthorized(res: ServerResponse): RequestOutcome {
  res.setHeader("www-authenticate", 'Bearer realm="oauthmanager"');
  return sendError(
    res,
    401,
    "authentication_error",
    "a gateway key is required (Authorization: Bearer, x-api-key or x-goog-api-key)",
  );
}

/** Closes managers (each waits for its calls in flight), then the state's store if given. */
async function closeAll(
  managers: readonly OAuthKeyManager[],
  state: GatewayState | undefined,
): Promise<void> {
  const results = await Promise.allSettled(managers.map((m) => m.close()));
  await state?.store.close();
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}
