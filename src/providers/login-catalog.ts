/**
 * How each preset provider's own CLI signs a user in: the endpoints, the public client, the
 * scopes and the redirect it registered. `oauthmanager login` follows the same flow, so the
 * provider sees the same client it already knows. Every constant names the public source it was
 * taken from; the configuration's `login` section overrides any of them.
 * @module
 */
import {
  CLAUDE_CODE_CLIENT_ID,
  CODEX_CLIENT_ID,
  GEMINI_CLI_CLIENT_ID,
  GEMINI_CLI_CLIENT_SECRET,
  type PresetProvider,
  QWEN_CODE_CLIENT_ID,
} from "./catalog.js";

/** One provider's sign-in: the device flow (RFC 8628) or the code flow with PKCE (RFC 7636). */
export interface LoginPreset {
  /** The code flow's authorization endpoint. */
  readonly authorizationUrl?: string;
  /** The device flow's device authorization endpoint; when set, the device flow is used. */
  readonly deviceAuthorizationUrl?: string;
  readonly clientId: string;
  /** A public "secret" some installed-application clients carry (Google's). */
  readonly clientSecret?: string;
  readonly scopes: readonly string[];
  /**
   * The loopback redirect the client registered. Port 0 means any free port (RFC 8252 §7.3: the
   * server accepts any port on a loopback redirect).
   */
  readonly redirectUri?: string;
  /** Extra authorization request parameters the provider's CLI sends. */
  readonly authorizationParams?: Readonly<Record<string, string>>;
  /** Whether the device flow also carries PKCE (Qwen's does). */
  readonly devicePkce?: boolean;
}

/** Google's authorization endpoint. Source: googleapis/google-auth-library-nodejs src/auth/oauth2client.ts (`GOOGLE_OAUTH2_AUTH_BASE_URL_`). */
export const GOOGLE_AUTHORIZATION_URL = "https://accounts.google.com/o/oauth2/v2/auth";

/** Gemini CLI's scopes. Source: google-gemini/gemini-cli packages/core/src/code_assist/oauth2.ts (`OAUTH_SCOPE`). */
export const GEMINI_CLI_SCOPES = Object.freeze([
  "https://www.googleapis.com/auth/cloud-platform",
  "https://www.googleapis.com/auth/userinfo.email",
  "https://www.googleapis.com/auth/userinfo.profile",
]);

/**
 * Qwen's device authorization endpoint; Qwen Code sends PKCE's `code_challenge` with it and the
 * `code_verifier` with each poll. Source: QwenLM/qwen-code packages/core/src/qwen/qwenOAuth2.ts
 * (`QWEN_OAUTH_DEVICE_CODE_ENDPOINT`, `requestDeviceAuthorization`, `pollDeviceToken`).
 */
export const QWEN_DEVICE_AUTHORIZATION_URL = "https://chat.qwen.ai/api/v1/oauth2/device/code";

/** Qwen Code's scopes. Source: QwenLM/qwen-code packages/core/src/qwen/qwenOAuth2.ts (`QWEN_OAUTH_SCOPE`). */
export const QWEN_CODE_SCOPES = Object.freeze(["openid", "profile", "email", "model.completion"]);

/**
 * Claude's authorization endpoint, with the `code=true` parameter, Claude Code's scopes and its
 * registered redirect on port 54545. Claude Code is not public source; these are taken from
 * router-for-me/CLIProxyAPI internal/auth/claude/anthropic_auth.go (`AuthURL`, `RedirectURI`,
 * `GenerateAuthURL`). Not verified against Anthropic itself.
 */
export const CLAUDE_AUTHORIZATION_URL = "https://claude.ai/oauth/authorize";
export const CLAUDE_CODE_SCOPES = Object.freeze([
  "org:create_api_key",
  "user:profile",
  "user:inference",
]);
export const CLAUDE_CODE_REDIRECT_URI = "http://localhost:54545/callback";

/**
 * OpenAI's authorization endpoint, Codex's scopes, its redirect on the registered port 1455 and
 * the extra parameters it sends. Source: openai/codex codex-rs/login/src/server.rs
 * (`DEFAULT_ISSUER`, `DEFAULT_PORT`, `build_authorize_url`).
 */
export const OPENAI_AUTHORIZATION_URL = "https://auth.openai.com/oauth/authorize";
export const CODEX_SCOPES = Object.freeze(["openid", "profile", "email", "offline_access"]);
export const CODEX_REDIRECT_URI = "http://localhost:1455/auth/callback";

/** Every preset provider's sign-in. */
export const LOGIN_CATALOG: Readonly<Record<PresetProvider, LoginPreset>> = Object.freeze({
  gemini: Object.freeze({
    authorizationUrl: GOOGLE_AUTHORIZATION_URL,
    clientId: GEMINI_CLI_CLIENT_ID,
    clientSecret: GEMINI_CLI_CLIENT_SECRET,
    scopes: GEMINI_CLI_SCOPES,
    // gemini-cli listens on a free port of 127.0.0.1 at /oauth2callback (`authWithWeb`).
    redirectUri: "http://127.0.0.1:0/oauth2callback",
    // Without offline access Google issues no refresh token (gemini-cli sends it too).
    authorizationParams: Object.freeze({ access_type: "offline" }),
  }),
  qwen: Object.freeze({
    deviceAuthorizationUrl: QWEN_DEVICE_AUTHORIZATION_URL,
    clientId: QWEN_CODE_CLIENT_ID,
    scopes: QWEN_CODE_SCOPES,
    devicePkce: true,
  }),
  anthropic: Object.freeze({
    authorizationUrl: CLAUDE_AUTHORIZATION_URL,
    clientId: CLAUDE_CODE_CLIENT_ID,
    scopes: CLAUDE_CODE_SCOPES,
    redirectUri: CLAUDE_CODE_REDIRECT_URI,
    authorizationParams: Object.freeze({ code: "true" }),
  }),
  openai: Object.freeze({
    authorizationUrl: OPENAI_AUTHORIZATION_URL,
    clientId: CODEX_CLIENT_ID,
    scopes: CODEX_SCOPES,
    redirectUri: CODEX_REDIRECT_URI,
    authorizationParams: Object.freeze({
      id_token_add_organizations: "true",
      codex_cli_simplified_flow: "true",
    }),
  }),
});
