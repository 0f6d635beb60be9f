/**
 * The model a proxied request names, used as its failover scope: a 429 for one model then rests
 * the credential for that model only. Clients write it, so only a short name of ordinary
 * characters counts; anything else gives no scope (a pool-wide cooldown, as without one).
 * @module
 */

import { parseRecord } from "../describe.js";

/** Longest model name taken as a scope: the manager keeps a cooldown per scope. */
export const MAX_MODEL_LENGTH = 128;

/** Letters, digits and the separators model names use (`gemini-2.5-pro`, `qwen/qwen3:free`). */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/;

/** Gemini style: `/models/{model}:generateContent`, `/v1beta/models/{model}:streamGenerateContent`. */
const PATH_MODEL = /\/models\/([^/:?]+):[A-Za-z]+$/;

/**
 * The model of a request: from the path (Gemini style), else from the JSON body's `model` field
 * (OpenAI, Anthropic, Qwen style); undefined when there is none or it looks odd.
 * @param path the path after `/<provider>`, without its query
 */
export function requestModel(path: string, body: Buffer | undefined): string | undefined {
  // A plain search first: most paths (OpenAI, Anthropic) name no model, and skip the expression.
  const fromPath = path.includes("/models/") ? PATH_MODEL.exec(path)?.[1] : undefined;
  if (fromPath !== undefined) return checked(safeDecode(fromPath));
  return checked(bodyModel(body));
}

function bodyModel(body: Buffer | undefined): unknown {
  // A JSON object only: anything else (a file upload, form data) is not parsed.
  if (body === undefined || body.length === 0 || body[firstNonSpace(body)] !== 0x7b) {
    return undefined;
  }
  return parseRecord(body.toString("utf8"))?.model;
}

function firstNonSpace(body: Buffer): number {
  let i = 0;
  while (
    i < body.length &&
    (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)
  )
    i++;
  return i;
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function checked(model: unknown): string | undefined {
  return typeof model === "string" && model.length <= MAX_MODEL_LENGTH && MODEL_NAME.test(model)
    ? model
    : undefined;
}
