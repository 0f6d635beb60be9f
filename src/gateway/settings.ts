/**
 * The gateway's settings from the configuration's `server` section, with their defaults.
 * @module
 */
import type { ServerConfig } from "../config/types.js";

/** 32 MiB: more than any chat or embeddings request, less than a process should hold per call. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
/** 5 min: a long non-streamed completion can take minutes before its headers. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 300_000;
/** 5 min without a byte, as Codex waits on an idle stream. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8787;

/** The resolved settings. */
export interface GatewaySettings {
  readonly maxBodyBytes: number;
  readonly upstreamTimeoutMs: number;
  readonly streamIdleTimeoutMs: number;
  readonly drainTimeoutMs: number;
}

/** The settings `server` gives, defaults filled in. */
export function gatewaySettings(server: ServerConfig | undefined): GatewaySettings {
  return {
    maxBodyBytes: server?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    upstreamTimeoutMs: server?.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS,
    streamIdleTimeoutMs: server?.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS,
    drainTimeoutMs: server?.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
  };
}
