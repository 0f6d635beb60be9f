/**
 * The gateway behind `oauthmanager serve`.
 * @module
 */
export { Gateway, type GatewayOptions, type ReloadResult } from "./gateway.js";
export {
  ANTHROPIC_UPSTREAM,
  CHATGPT_ACCOUNT_HEADER,
  CLAUDE_OAUTH_BETA,
  CODE_ASSIST_UPSTREAM,
  CODEX_UPSTREAM,
  DASHSCOPE_UPSTREAM,
  GATEWAY_PRESETS,
  type GatewayPreset,
  GEMINI_API_UPSTREAM,
  OPENAI_API_UPSTREAM,
  type UpstreamPreset,
} from "./presets.js";
