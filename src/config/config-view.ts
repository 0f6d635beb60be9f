/**
 * The redacting view of a parsed configuration: printing it, or any part of it, with
 * `console.log`, `util.inspect` or `JSON.stringify` shows no token, client secret, API key,
 * gateway key, login client secret, webhook secret, encryption key or Redis password, while reading a field still
 * gives the real value `createManagers` and the gateway need.
 * @module
 */
import { MONITORING_CONFIG_VIEW } from "../monitoring/config-view.js";
import { REDACTED } from "../redact.js";
import {
  CREDENTIAL_VIEW,
  type FieldMask,
  hidden,
  redactingPrototype,
  withRedactingView,
} from "../redacting-view.js";
import type { OAuthManagerConfig, StoreConfig } from "./types.js";

/** Header names whose values are credentials (`x-api-key`, `Authorization`, a session cookie). */
const SECRET_HEADER = /auth|key|token|secret|cookie|session|password|signature/i;

const secretHeaders: FieldMask = (headers) => {
  if (typeof headers !== "object" || headers === null) return headers;
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      SECRET_HEADER.test(name) ? hidden(value) : value,
    ]),
  );
};

/** A Redis URL without its user name, password and query (which may carry a password too). */
const redisUrl: FieldMask = (url) => {
  if (typeof url !== "string") return url;
  try {
    const u = new URL(url);
    const userinfo = u.username !== "" || u.password !== "" ? `${REDACTED}@` : "";
    return `${u.protocol}//${userinfo}${u.host}${u.pathname}${u.search === "" ? "" : "?…"}`;
  } catch {
    return REDACTED;
  }
};

const PROVIDER_VIEW = redactingPrototype({ apiKeys: hidden, headers: secretHeaders });
const STORE_VIEW = redactingPrototype({ encryptionKey: hidden, url: redisUrl });
const SERVER_VIEW = redactingPrototype({ clientKeys: hidden, adminKey: hidden });
const LOGIN_VIEW = redactingPrototype({ clientSecret: hidden });

/**
 * Gives a configuration just parsed, and every part of it that holds a secret, the redacting
 * view, in place.
 * @returns `config`
 */
export function withConfigView(config: OAuthManagerConfig): OAuthManagerConfig {
  for (const provider of Object.values(config.providers)) {
    withRedactingView(provider, PROVIDER_VIEW);
    for (const cred of provider.oauthCredentials) withRedactingView(cred, CREDENTIAL_VIEW);
    if (provider.monitoring) withRedactingView(provider.monitoring, MONITORING_CONFIG_VIEW);
    if (provider.login) withRedactingView(provider.login, LOGIN_VIEW);
  }
  if (config.store) withRedactingView<StoreConfig>(config.store, STORE_VIEW);
  if (config.server) withRedactingView(config.server, SERVER_VIEW);
  return config;
}
