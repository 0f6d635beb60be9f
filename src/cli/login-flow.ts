/**
 * Signing in with a provider's own OAuth flow, through oauth4webapi: the device flow (RFC 8628)
 * where the provider has one, else the authorization code flow with PKCE (RFC 7636) on a
 * loopback redirect (RFC 8252 §7.3). The user is shown a URL (and a code); nothing here prints a
 * token.
 * @module
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as oauth from "oauth4webapi";
import { abortableDelay, raceAbort } from "../abort.js";
import type { ProviderConfig } from "../config/types.js";
import { isPresetProvider, PROVIDER_CATALOG } from "../providers/catalog.js";
import { LOGIN_CATALOG } from "../providers/login-catalog.js";

/** Everything a sign-in needs, the preset's values under the configuration's `login`. */
export interface LoginSettings {
  authorizationUrl?: string | undefined;
  deviceAuthorizationUrl?: string | undefined;
  tokenUrl: string;
  clientId: string;
  clientSecret?: string | undefined;
  scopes: readonly string[];
  redirectUri: string;
  authorizationParams: Readonly<Record<string, string>>;
  devicePkce: boolean;
  bodyFormat: "form" | "json";
}

/** A sign-in that cannot start or did not finish: one line, no token in it. */
export class LoginError extends Error {
  override name = "LoginError";
}

/** The loopback redirect when neither the preset nor the configuration names one. */
const DEFAULT_REDIRECT = "http://127.0.0.1:0/callback";
/** How long the user has to finish in the browser, as gemini-cli gives (5 minutes). */
export const LOGIN_TIMEOUT_MS = 5 * 60_000;

/**
 * The settings for `name`: the preset's (for gemini, qwen, anthropic, openai), each field
 * overridden by the provider's `login`, `token_url` and `body_format`.
 * @throws {LoginError} when the provider has no way to sign in
 */
export function loginSettings(name: string, provider: ProviderConfig): LoginSettings {
  const preset = isPresetProvider(name) ? LOGIN_CATALOG[name] : undefined;
  const refresh = isPresetProvider(name) ? PROVIDER_CATALOG[name].options : undefined;
  const login = provider.login ?? {};
  const deviceAuthorizationUrl =
    login.deviceAuthorizationUrl ??
    (login.authorizationUrl ? undefined : preset?.deviceAuthorizationUrl);
  const authorizationUrl =
    login.authorizationUrl ?? (login.deviceAuthorizationUrl ? undefined : preset?.authorizationUrl);
  const where = `providers.${name}`;
  if (authorizationUrl === undefined && deviceAuthorizationUrl === undefined) {
    throw new LoginError(
      `provider ${name} has no sign-in endpoints: add ${where}.login.authorization_url (or device_authorization_url) and client_id`,
    );
  }
  const tokenUrl = provider.tokenUrl ?? refresh?.tokenUrl;
  if (tokenUrl === undefined)
    throw new LoginError(`provider ${name} has no token endpoint: add ${where}.token_url`);
  const clientId = login.clientId ?? preset?.clientId;
  if (clientId === undefined)
    throw new LoginError(`provider ${name} has no client: add ${where}.login.client_id`);
  // A configured client is not the preset's: the preset's secret does not go with it.
  const clientSecret =
    login.clientId !== undefined
      ? login.clientSecret
      : (login.clientSecret ?? preset?.clientSecret);
  return {
    authorizationUrl,
    deviceAuthorizationUrl,
    tokenUrl,
    clientId,
    clientSecret,
    scopes: login.scopes ?? preset?.scopes ?? [],
    redirectUri: login.redirectUri ?? preset?.redirectUri ?? DEFAULT_REDIRECT,
    authorizationParams: preset?.authorizationParams ?? {},
    devicePkce: preset?.devicePkce ?? false,
    bodyFormat: provider.bodyFormat ?? refresh?.bodyFormat ?? "form",
  };
}

/** What the user is told to do; each line printed as is. */
export type Prompt = (lines: string[]) => void;

/** The token endpoint's answer, as on the wire. */
export type TokenAnswer = oauth.TokenEndpointResponse;

/**
 * Runs the sign-in and returns the token endpoint's answer.
 * @param prompt Shows the URL (and the user code) to the user.
 * @param open Opens a URL in a browser, when asked for.
 * @throws {LoginError} when the user denies, the code expires, or an endpoint fails
 */
export async function signIn(
  settings: LoginSettings,
  prompt: Prompt,
  open: ((url: string) => void) | undefined,
  signal: AbortSignal,
): Promise<TokenAnswer> {
  const as: oauth.AuthorizationServer = {
    // Tokens' id_token claims are checked against it: the sign-in host is the issuer.
    issuer: new URL(
      settings.authorizationUrl ?? settings.deviceAuthorizationUrl ?? settings.tokenUrl,
    ).origin,
    token_endpoint: settings.tokenUrl,
    ...(settings.authorizationUrl && { authorization_endpoint: settings.authorizationUrl }),
    ...(settings.deviceAuthorizationUrl && {
      device_authorization_endpoint: settings.deviceAuthorizationUrl,
    }),
  };
  const client: oauth.Client = { client_id: settings.clientId };
  const auth = settings.clientSecret ? oauth.ClientSecretPost(settings.clientSecret) : oauth.None();
  const flow: Flow = {
    as,
    client,
    auth,
    settings,
    http: httpOptions(settings, signal),
    prompt,
    open,
    signal,
  };
  try {
    return settings.deviceAuthorizationUrl ? await deviceFlow(flow) : await codeFlow(flow);
  } catch (err) {
    throw asLoginError(err, signal);
  }
}

type HttpOptions = oauth.TokenEndpointRequestOptions & oauth.DeviceAuthorizationRequestOptions;

/** One sign-in: the server, the client, how to talk to them and to the user. */
interface Flow {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  auth: oauth.ClientAuth;
  settings: LoginSettings;
  http: HttpOptions;
  prompt: Prompt;
  open: ((url: string) => void) | undefined;
  signal: AbortSignal;
}

function httpOptions(settings: LoginSettings, signal: AbortSignal): HttpOptions {
  const options: HttpOptions = { signal };
  // Plain http only to this machine (a test's server, a local proxy): never across a network.
  const urls = [settings.tokenUrl, settings.authorizationUrl, settings.deviceAuthorizationUrl];
  if (urls.every((u) => u === undefined || isLoopbackHttp(u) || u.startsWith("https:"))) {
    options[oauth.allowInsecureRequests] = true;
  }
  if (settings.bodyFormat === "json") {
    // Anthropic's token endpoint takes JSON, not a form (as Claude Code sends it).
    options[oauth.customFetch] = (url, init) => {
      const form =
        init.body instanceof URLSearchParams
          ? init.body
          : typeof init.body === "string"
            ? new URLSearchParams(init.body)
            : undefined;
      if (form === undefined || !url.startsWith(settings.tokenUrl)) return fetch(url, init);
      const headers = new Headers(init.headers);
      headers.set("content-type", "application/json");
      const body = JSON.stringify(Object.fromEntries(form));
      return fetch(url, { ...init, headers, body });
    };
  }
  return options;
}

function isLoopbackHttp(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Device flow (RFC 8628)
// ---------------------------------------------------------------------------------------------

async function deviceFlow(flow: Flow): Promise<TokenAnswer> {
  const { as, client, auth, settings, http, prompt, open, signal } = flow;
  const params = new URLSearchParams();
  if (settings.scopes.length > 0) params.set("scope", settings.scopes.join(" "));
  let verifier: string | undefined;
  if (settings.devicePkce) {
    verifier = oauth.generateRandomCodeVerifier();
    params.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
    params.set("code_challenge_method", "S256");
  }
  const started = await oauth.processDeviceAuthorizationResponse(
    as,
    client,
    await oauth.deviceAuthorizationRequest(as, client, auth, params, http),
  );
  const page = started.verification_uri_complete ?? started.verification_uri;
  // The complete URI carries the code already: the user only checks it matches.
  const verb = started.verification_uri_complete ? "confirm" : "enter";
  prompt([`To sign in, open ${page}`, `and ${verb} the code ${started.user_code}`]);
  open?.(page);
  const deadline = Date.now() + started.expires_in * 1000;
  let intervalMs = (started.interval ?? 5) * 1000;
  const grant: HttpOptions = verifier
    ? { ...http, additionalParameters: { code_verifier: verifier } }
    : http;
  for (;;) {
    try {
      return await oauth.processDeviceCodeResponse(
        as,
        client,
        await oauth.deviceCodeGrantRequest(as, client, auth, started.device_code, grant),
      );
    } catch (err) {
      if (!(err instanceof oauth.ResponseBodyError)) throw err;
      if (err.error === "slow_down") intervalMs += 5000;
      else if (err.error !== "authorization_pending") throw err;
    }
    if (Date.now() + intervalMs > deadline) {
      throw new LoginError("the code expired before the sign-in was confirmed; run login again");
    }
    await abortableDelay(intervalMs, signal);
  }
}

// ---------------------------------------------------------------------------------------------
// Authorization code flow with PKCE on a loopback redirect (RFC 7636, RFC 8252)
// ---------------------------------------------------------------------------------------------

async function codeFlow(flow: Flow): Promise<TokenAnswer> {
  const { as, client, auth, settings, http, prompt, open, signal } = flow;
  const registered = new URL(settings.redirectUri);
  if (registered.protocol !== "http:" || !isLoopbackHttp(registered.href)) {
    throw new LoginError(
      `the redirect URI must be http on a loopback address (127.0.0.1 or localhost)`,
    );
  }
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const callback = await listen(registered, signal);
  try {
    const redirectUri = new URL(registered.href);
    redirectUri.port = String(callback.port);
    const url = new URL(settings.authorizationUrl as string);
    url.searchParams.set("client_id", client.client_id);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("redirect_uri", redirectUri.href);
    if (settings.scopes.length > 0) url.searchParams.set("scope", settings.scopes.join(" "));
    url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
    url.searchParams.set("code_challenge_method", "S256");
    url.searchParams.set("state", state);
    for (const [k, v] of Object.entries(settings.authorizationParams)) url.searchParams.set(k, v);
    prompt(["To sign in, open this URL in a browser:", url.href]);
    open?.(url.href);
    const params = await callback.result((query) =>
      oauth.validateAuthResponse(as, client, query, state),
    );
    return await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(
        as,
        client,
        auth,
        params,
        redirectUri.href,
        verifier,
        {
          ...http,
          // Anthropic's endpoint wants the state back in the body, as Claude Code sends it.
          ...(settings.bodyFormat === "json" && { additionalParameters: { state } }),
        },
      ),
    );
  } finally {
    await callback.close();
  }
}

interface Callback {
  port: number;
  /** The first request on the redirect path whose query `check` accepts. */
  result(check: (query: URLSearchParams) => URLSearchParams): Promise<URLSearchParams>;
  close(): Promise<void>;
}

/** A loopback server on the redirect's port (0: a free one), 127.0.0.1 only. */
async function listen(redirect: URL, signal: AbortSignal): Promise<Callback> {
  let settle: { resolve(p: URLSearchParams): void; reject(e: unknown): void } | undefined;
  let check: ((query: URLSearchParams) => URLSearchParams) | undefined;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method !== "GET" || url.pathname !== redirect.pathname || !check || !settle) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    try {
      const params = check(url.searchParams);
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      res.end("Signed in. You can close this tab and go back to the terminal.\n");
      settle.resolve(params);
    } catch (err) {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
      res.end("The sign-in did not succeed; see the terminal.\n");
      settle.reject(err);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new LoginError(
          err.code === "EADDRINUSE"
            ? `port ${redirect.port} of 127.0.0.1, which the provider's redirect needs, is in use (is the provider's own CLI signing in?)`
            : `cannot listen on 127.0.0.1 for the redirect: ${err.code ?? err.message}`,
        ),
      ),
    );
    server.listen(Number(redirect.port || 80), "127.0.0.1", resolve);
  });
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    port: (server.address() as AddressInfo).port,
    result(fn) {
      check = fn;
      return raceAbort(
        new Promise<URLSearchParams>((resolve, reject) => {
          settle = { resolve, reject };
        }),
        signal,
      );
    },
    close,
  };
}

/** oauth4webapi's errors as one line: the OAuth error code and description, never a token. */
function asLoginError(err: unknown, signal: AbortSignal): unknown {
  if (err instanceof LoginError) return err;
  if (signal.aborted) {
    return new LoginError("the sign-in was not finished in time; run login again");
  }
  if (err instanceof oauth.AuthorizationResponseError || err instanceof oauth.ResponseBodyError) {
    const description = err.error_description ? `: ${oneLine(err.error_description)}` : "";
    const denied = err.error === "access_denied" ? " (the sign-in was denied)" : "";
    return new LoginError(`the provider answered ${err.error}${denied}${description}`);
  }
  if (err instanceof oauth.OperationProcessingError) {
    return new LoginError(`the provider's answer was not accepted: ${oneLine(err.message)}`);
  }
  const cause = (err as { cause?: { code?: unknown } }).cause?.code;
  if (err instanceof TypeError && typeof cause === "string") {
    return new LoginError(`cannot reach the provider: ${cause}`);
  }
  return err;
}

/** A provider's text, short and on one line (it is shown, and could be anything). */
const oneLine = (text: string) => text.replace(/\s+/g, " ").slice(0, 200);
