/**
 * What each provider's token endpoint expects, as the provider's own CLI talks to it, and what
 * each provider does differently from plain RFC 6749 (as hooks). Pure data and pure functions:
 * the presets combine them with the generic refresher.
 *
 * Every constant names the public source it was taken from. Public client ids and the Google
 * "secret" below are not secrets: they ship inside the CLIs for anyone to read, and the
 * providers treat these clients as public (installed-application) clients.
 * @module
 */

import { isRecord } from "../describe.js";
import type { ProviderData } from "../types.js";
import { jwtClaims } from "./jwt.js";
import type { OAuth2RefreshOptions, ProviderHooks } from "./oauth2.js";

/** The names the presets answer to, as configuration names the providers. */
export type PresetProvider = "gemini" | "qwen" | "anthropic" | "openai";

/** One provider's token endpoint and the hooks for what it does differently. */
export interface ProviderCatalogEntry {
  /** Token endpoint, request body format and client authentication. */
  readonly options: Readonly<
    Required<Pick<OAuth2RefreshOptions, "tokenUrl" | "bodyFormat" | "clientAuth">>
  >;
  /** Public client, provider facts from the answer, the provider's own "grant is dead". */
  readonly hooks: Readonly<ProviderHooks>;
}

// ---------------------------------------------------------------------------------------------
// Google (Gemini CLI)
// ---------------------------------------------------------------------------------------------

/**
 * Google's token endpoint, as google-auth-library (which Gemini CLI refreshes through) posts the
 * refresh grant: form body with `client_id` and `client_secret` in it.
 * Source: googleapis/google-auth-library-nodejs src/auth/oauth2client.ts (`oauth2TokenUrl`,
 * `refreshTokenNoCache`), checked in the installed google-auth-library 10.9.1.
 */
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

/** Gemini CLI's installed-application client. Source: google-gemini/gemini-cli packages/core/src/code_assist/oauth2.ts (`OAUTH_CLIENT_ID`). */
export const GEMINI_CLI_CLIENT_ID =
  "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com";

/**
 * Gemini CLI's client "secret": public by design (Google's installed-application flow embeds it
 * in the app; gemini-cli's own comment says so). Google refuses the refresh grant without it.
 * Source: google-gemini/gemini-cli packages/core/src/code_assist/oauth2.ts (`OAUTH_CLIENT_SECRET`).
 */
export const GEMINI_CLI_CLIENT_SECRET = "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";

// ---------------------------------------------------------------------------------------------
// Qwen (Qwen Code)
// ---------------------------------------------------------------------------------------------

/**
 * Qwen's token endpoint; Qwen Code posts the refresh grant form-encoded with only `client_id`
 * (a public device-flow client, no secret).
 * Source: QwenLM/qwen-code packages/core/src/qwen/qwenOAuth2.ts (`QWEN_OAUTH_TOKEN_ENDPOINT`,
 * `refreshAccessToken`).
 */
export const QWEN_TOKEN_URL = "https://chat.qwen.ai/api/v1/oauth2/token";

/** Qwen Code's client. Source: QwenLM/qwen-code packages/core/src/qwen/qwenOAuth2.ts (`QWEN_OAUTH_CLIENT_ID`). */
export const QWEN_CODE_CLIENT_ID = "f0304373b74a44d2b584a3fb70ca9e56";

// ---------------------------------------------------------------------------------------------
// Anthropic (Claude Code)
// ---------------------------------------------------------------------------------------------

/**
 * The token endpoint Claude Code refreshes its claude.ai login at, with a JSON body
 * `{grant_type, refresh_token, client_id}` and no secret.
 *
 * Claude Code ships no public source, so this is taken from public tools that log in with its
 * client, not from Anthropic: recent ones (e.g. the shunt-proxy crate's src/oauth.rs, the
 * link-assistant-router crate) use `platform.claude.com`, which Anthropic's console moved to;
 * older ones (anomalyco/opencode-anthropic-auth index.mjs) use the former host
 * `https://console.anthropic.com/v1/oauth/token`. Not verified against Anthropic itself: pass
 * `tokenUrl` to override it.
 */
export const ANTHROPIC_TOKEN_URL = "https://platform.claude.com/v1/oauth/token";

/**
 * Claude Code's public OAuth client id, as the tools above send it (Claude Code itself is not
 * public source). Source: anomalyco/opencode-anthropic-auth index.mjs (`CLIENT_ID`).
 */
export const CLAUDE_CODE_CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";

// ---------------------------------------------------------------------------------------------
// OpenAI (Codex CLI, ChatGPT login)
// ---------------------------------------------------------------------------------------------

/**
 * OpenAI's token endpoint for ChatGPT logins; Codex posts the refresh grant as JSON
 * `{client_id, grant_type, refresh_token}` without a secret.
 * Source: openai/codex codex-rs/login/src/auth/manager.rs (`REFRESH_TOKEN_URL`,
 * `request_chatgpt_token_refresh`).
 */
export const OPENAI_TOKEN_URL = "https://auth.openai.com/oauth/token";

/** Codex CLI's client. Source: openai/codex codex-rs/login (`CLIENT_ID`, sent by `request_chatgpt_token_refresh`). */
export const CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";

/** The id_token claim holding ChatGPT account facts. Source: openai/codex codex-rs/login/src/token_data.rs (`IdClaims`). */
const OPENAI_AUTH_CLAIM = "https://api.openai.com/auth";

/**
 * OpenAI's `error` codes for a refresh token that can never work again (Codex shows "please log
 * out and sign in again" for each). Source: openai/codex codex-rs/login/src/auth/manager.rs
 * (`classify_refresh_token_failure`).
 */
const OPENAI_DEAD_REFRESH_CODES: ReadonlySet<string> = new Set([
  "refresh_token_expired",
  "refresh_token_reused",
  "refresh_token_invalidated",
]);

// ---------------------------------------------------------------------------------------------
// Hooks: what the providers do differently
// ---------------------------------------------------------------------------------------------

/**
 * The API base URL for a Qwen `resource_url`, normalised as Qwen Code does: the endpoint sends a
 * bare host (`portal.qwen.ai`); the OpenAI-compatible API lives at `https://<host>/v1`.
 * `undefined` for anything that is not a usable http(s) URL.
 * Source: QwenLM/qwen-code packages/core/src/qwen/qwenContentGenerator.ts (`getCurrentEndpoint`).
 */
export function qwenBaseUrl(resourceUrl: unknown): string | undefined {
  if (typeof resourceUrl !== "string") return undefined;
  const trimmed = resourceUrl.trim();
  if (trimmed === "") return undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== "https" && scheme !== "http") return undefined;
  const withScheme = /^https?:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  const url = withScheme.endsWith("/v1") ? withScheme : `${withScheme.replace(/\/+$/, "")}/v1`;
  try {
    const parsed = new URL(url);
    if (parsed.hostname === "") return undefined;
    // Credentials in a URL would be shown wherever provider data is (it is not a secret field).
    if (parsed.username !== "" || parsed.password !== "") return undefined;
  } catch {
    return undefined;
  }
  return url;
}

/** Qwen's answer carries `resource_url`: the API host this token is valid for. */
export function qwenProviderData(
  body: Readonly<Record<string, unknown>>,
): ProviderData | undefined {
  const resourceUrl = qwenBaseUrl(body.resource_url);
  return resourceUrl === undefined ? undefined : { resourceUrl };
}

/**
 * Qwen answers an expired or revoked refresh token with `invalid_request` (not the standard
 * `invalid_grant`), e.g. "Invalid refresh token or client_id". Qwen Code itself treats every
 * 400/401 of the refresh grant as "Refresh token expired or invalid" and deletes the login
 * (QwenLM/qwen-code packages/core/src/qwen/qwenOAuth2.ts, `refreshAccessToken`); here only the
 * `invalid_request` answers count, so that a 400 for anything else is not taken for a dead login.
 */
export function qwenIsPermanent(error: {
  oauthError: string | undefined;
  status: number;
}): boolean {
  return error.oauthError === "invalid_request" && (error.status === 400 || error.status === 401);
}

/**
 * The ChatGPT account id from an OpenAI token answer's `id_token` (decoded, not verified: it came
 * from the token endpoint over TLS). The id_token itself is never kept.
 */
export function openaiProviderData(
  body: Readonly<Record<string, unknown>>,
): ProviderData | undefined {
  const accountId = chatgptAccountId(body.id_token);
  return accountId === undefined ? undefined : { accountId };
}

/** `chatgpt_account_id` from the OpenAI auth claim of an id_token, when there is one. */
export function chatgptAccountId(idToken: unknown): string | undefined {
  const auth = jwtClaims(idToken)?.[OPENAI_AUTH_CLAIM];
  if (!isRecord(auth)) return undefined;
  const id = auth.chatgpt_account_id;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/**
 * OpenAI says a refresh token is dead with a 401, or with one of its own codes (expired, already
 * used, revoked). Codex treats both as "sign in again". Source: openai/codex
 * codex-rs/login/src/auth/manager.rs (`request_chatgpt_token_refresh`).
 */
export function openaiIsPermanent(error: {
  oauthError: string | undefined;
  status: number;
}): boolean {
  return (
    error.status === 401 ||
    (error.oauthError !== undefined && OPENAI_DEAD_REFRESH_CODES.has(error.oauthError))
  );
}

// ---------------------------------------------------------------------------------------------
// The catalog
// ---------------------------------------------------------------------------------------------

/**
 * Every preset provider: endpoint, format, public client and hooks. The public client goes into
 * the hooks, not the options, so that a credential's own `clientId`/`clientSecret` still wins.
 */
export const PROVIDER_CATALOG: Readonly<Record<PresetProvider, ProviderCatalogEntry>> =
  Object.freeze({
    // Google answers a refresh without `refresh_token` (it does not rotate): the generic
    // refresher keeps the old one, so no hook is needed for that.
    gemini: Object.freeze({
      options: Object.freeze({
        tokenUrl: GOOGLE_TOKEN_URL,
        bodyFormat: "form",
        clientAuth: "body",
      }),
      hooks: Object.freeze({
        defaultClientId: GEMINI_CLI_CLIENT_ID,
        defaultClientSecret: GEMINI_CLI_CLIENT_SECRET,
      }),
    }),
    qwen: Object.freeze({
      options: Object.freeze({ tokenUrl: QWEN_TOKEN_URL, bodyFormat: "form", clientAuth: "body" }),
      hooks: Object.freeze({
        defaultClientId: QWEN_CODE_CLIENT_ID,
        providerData: qwenProviderData,
        isPermanent: qwenIsPermanent,
      }),
    }),
    anthropic: Object.freeze({
      options: Object.freeze({
        tokenUrl: ANTHROPIC_TOKEN_URL,
        bodyFormat: "json",
        clientAuth: "body",
      }),
      hooks: Object.freeze({ defaultClientId: CLAUDE_CODE_CLIENT_ID }),
    }),
    openai: Object.freeze({
      options: Object.freeze({
        tokenUrl: OPENAI_TOKEN_URL,
        bodyFormat: "json",
        clientAuth: "body",
      }),
      hooks: Object.freeze({
        defaultClientId: CODEX_CLIENT_ID,
        providerData: openaiProviderData,
        isPermanent: openaiIsPermanent,
      }),
    }),
  });

/** True when `name` is a provider with a preset. */
export function isPresetProvider(name: unknown): name is PresetProvider {
  return typeof name === "string" && Object.hasOwn(PROVIDER_CATALOG, name);
}
