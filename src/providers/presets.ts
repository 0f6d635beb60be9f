/**
 * Ready-made refresh functions for the providers whose CLIs people log in with: each is the
 * generic OAuth 2.0 refresher with the provider's endpoint, format, public client and quirks
 * from the catalog. Any option can be overridden (a proxy's `tokenUrl`, a test's `fetch`).
 * @module
 */
import { describe } from "../describe.js";
import type { RefreshFunc } from "../types.js";
import { isPresetProvider, PROVIDER_CATALOG, type PresetProvider } from "./catalog.js";
import { createRefresher, type OAuth2RefreshOptions } from "./oauth2.js";

/**
 * Overrides for a preset: any option of `oauth2Refresh`; the preset fills in the rest. An option
 * given as `undefined` counts as not given (handy when passing optional configuration through).
 */
export type PresetOptions = {
  [K in keyof OAuth2RefreshOptions]?: OAuth2RefreshOptions[K] | undefined;
};

function presetFor(provider: PresetProvider, overrides: PresetOptions | undefined): RefreshFunc {
  if (overrides !== undefined && (typeof overrides !== "object" || overrides === null)) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(overrides)}`);
  }
  const entry = PROVIDER_CATALOG[provider];
  // An override given as `undefined` means "not given": it must not erase the preset's value.
  const given = Object.fromEntries(
    Object.entries(overrides ?? {}).filter(([, value]) => value !== undefined),
  ) as Partial<OAuth2RefreshOptions>;
  return createRefresher({ ...entry.options, ...given }, entry.hooks);
}

/**
 * Refreshes Google logins as Gemini CLI does: `https://oauth2.googleapis.com/token`, form body,
 * Gemini CLI's public client id and secret unless the credential or `options` carry others.
 * Google does not rotate refresh tokens; an answer without one keeps the old.
 */
export function geminiRefresh(options?: PresetOptions): RefreshFunc {
  return presetFor("gemini", options);
}

/**
 * Refreshes Qwen logins as Qwen Code does: `https://chat.qwen.ai/api/v1/oauth2/token`, form
 * body, Qwen Code's public client id. The answer's `resource_url` becomes
 * `providerData.resourceUrl` (the API base URL, e.g. `https://portal.qwen.ai/v1`); Qwen's
 * `invalid_request` for a dead refresh token is a permanent failure.
 */
export function qwenRefresh(options?: PresetOptions): RefreshFunc {
  return presetFor("qwen", options);
}

/**
 * Refreshes Claude (claude.ai) logins as Claude Code does: JSON body, Claude Code's public
 * client id. The endpoint comes from public tools, not from Anthropic (Claude Code is not public
 * source): override `tokenUrl` if Anthropic moves it.
 */
export function anthropicRefresh(options?: PresetOptions): RefreshFunc {
  return presetFor("anthropic", options);
}

/**
 * Refreshes ChatGPT logins as Codex CLI does: `https://auth.openai.com/oauth/token`, JSON body,
 * Codex's public client id. The account id in the answer's `id_token` becomes
 * `providerData.accountId` (the id_token is not kept); a 401 or OpenAI's
 * `refresh_token_expired`/`_reused`/`_invalidated` is a permanent failure.
 */
export function openaiRefresh(options?: PresetOptions): RefreshFunc {
  return presetFor("openai", options);
}

/**
 * The preset for a provider named `gemini`, `qwen`, `anthropic` or `openai` (as configuration
 * names them), or `undefined` for any other name.
 */
export function presetRefresh(provider: string, options?: PresetOptions): RefreshFunc | undefined {
  if (typeof provider !== "string") {
    throw new TypeError(`Expected \`provider\` to be a string, got ${describe(provider)}`);
  }
  return isPresetProvider(provider) ? presetFor(provider, options) : undefined;
}
