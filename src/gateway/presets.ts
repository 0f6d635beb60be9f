/**
 * Where the gateway sends each preset provider's requests, and what the provider's tokens need
 * on the wire besides themselves. OAuth logins of the providers' CLIs and plain API keys often
 * reach different APIs, so each preset says both. Every constant names the public source it was
 * taken from.
 * @module
 */
import type { AuthStyle } from "../providers/auth.js";
import { type PresetProvider, qwenBaseUrl } from "../providers/catalog.js";
import type { OAuthCredentialSet } from "../types.js";

/** How one kind of credential (OAuth login or API key) reaches its API. */
export interface UpstreamPreset {
  /** Base URL; the client's path after `/<provider>` is appended to it. */
  readonly upstream: string;
  readonly auth: AuthStyle;
  /** The base URL this very credential must use, when the provider says so per account. */
  readonly upstreamFor?: (cred: Readonly<OAuthCredentialSet>) => string | undefined;
  /** Headers the provider requires with this credential. */
  readonly headers?: (cred: Readonly<OAuthCredentialSet>) => Record<string, string>;
}

/** A preset provider's two kinds of credentials. */
export interface GatewayPreset {
  readonly oauth: UpstreamPreset;
  readonly apiKey: UpstreamPreset;
}

// ---------------------------------------------------------------------------------------------
// Google

/**
 * The API Gemini CLI's Google login is valid for: Code Assist (`/v1internal:generateContent` and
 * the like), with the token as a Bearer. Its login is not an API key for the public Gemini API.
 * Source: google-gemini/gemini-cli packages/core/src/code_assist/server.ts (`CODE_ASSIST_ENDPOINT`,
 * `CODE_ASSIST_API_VERSION`).
 */
export const CODE_ASSIST_UPSTREAM = "https://cloudcode-pa.googleapis.com";

/**
 * The public Gemini API, where Gemini API keys go in `x-goog-api-key`.
 * Source: googleapis/js-genai (the `@google/genai` SDK's default base URL and key header).
 */
export const GEMINI_API_UPSTREAM = "https://generativelanguage.googleapis.com";

// ---------------------------------------------------------------------------------------------
// Qwen

/**
 * Where Qwen's OpenAI-compatible API lives when a login carries no `resource_url`, and where
 * DashScope API keys go. Source: QwenLM/qwen-code
 * packages/core/src/core/openaiContentGenerator/constants.ts (`DEFAULT_DASHSCOPE_BASE_URL`), used
 * by packages/core/src/qwen/qwenContentGenerator.ts (`getCurrentEndpoint`) when the login has no
 * `resource_url`.
 */
export const DASHSCOPE_UPSTREAM = "https://dashscope.aliyuncs.com/compatible-mode/v1";

// ---------------------------------------------------------------------------------------------
// Anthropic

/** Anthropic's API; the SDK appends `/v1/messages`. Source: anthropics/anthropic-sdk-typescript (default `baseURL`). */
export const ANTHROPIC_UPSTREAM = "https://api.anthropic.com";

/**
 * The beta flag without which api.anthropic.com refuses a Claude Code (claude.ai) OAuth token
 * sent as a Bearer. Claude Code is not public source; taken from a public proxy that sends these
 * tokens: router-for-me/CLIProxyAPI internal/runtime/executor/claude_executor_request.go
 * (`claudeOAuthBeta`, added for "OAuth credentials only").
 */
export const CLAUDE_OAUTH_BETA = "oauth-2025-04-20";

// ---------------------------------------------------------------------------------------------
// OpenAI

/**
 * Where Codex sends requests made with a ChatGPT login (the Responses API at `/responses`), and
 * where it sends API keys. Source: openai/codex codex-rs/model-provider-info/src/lib.rs
 * (`to_api_provider`: `https://chatgpt.com/backend-api/codex` for `AuthMode::Chatgpt`, else
 * `https://api.openai.com/v1`).
 */
export const CODEX_UPSTREAM = "https://chatgpt.com/backend-api/codex";
export const OPENAI_API_UPSTREAM = "https://api.openai.com/v1";

/**
 * The header naming the ChatGPT account a Codex login acts for. Source: openai/codex
 * codex-rs/codex-api/src/auth.rs (`add_auth_headers_to_header_map`).
 */
export const CHATGPT_ACCOUNT_HEADER = "chatgpt-account-id";

// ---------------------------------------------------------------------------------------------

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Every preset provider's upstreams, auth styles and required headers. */
export const GATEWAY_PRESETS: Readonly<Record<PresetProvider, GatewayPreset>> = Object.freeze({
  gemini: {
    oauth: { upstream: CODE_ASSIST_UPSTREAM, auth: "bearer" },
    apiKey: { upstream: GEMINI_API_UPSTREAM, auth: "x-goog-api-key" },
  },
  qwen: {
    oauth: {
      upstream: DASHSCOPE_UPSTREAM,
      auth: "bearer",
      // Each Qwen login is valid for the API host its token answer named.
      upstreamFor: (cred) => qwenBaseUrl(cred.providerData?.resourceUrl),
    },
    apiKey: { upstream: DASHSCOPE_UPSTREAM, auth: "bearer" },
  },
  anthropic: {
    oauth: {
      upstream: ANTHROPIC_UPSTREAM,
      auth: "bearer",
      headers: () => ({ "anthropic-beta": CLAUDE_OAUTH_BETA }),
    },
    apiKey: { upstream: ANTHROPIC_UPSTREAM, auth: "x-api-key" },
  },
  openai: {
    oauth: {
      upstream: CODEX_UPSTREAM,
      auth: "bearer",
      headers: (cred) => {
        const account = cred.providerData?.accountId;
        return account === undefined ? NO_HEADERS : { [CHATGPT_ACCOUNT_HEADER]: account };
      },
    },
    apiKey: { upstream: OPENAI_API_UPSTREAM, auth: "bearer" },
  },
});
