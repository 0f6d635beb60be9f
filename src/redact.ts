/**
 * Takes secrets out of what this package hands outward: thrown errors and their causes, event
 * payloads, log lines, webhook bodies.
 *
 * A secret is found however it travels: as is, percent-encoded (a token endpoint's error quoting
 * the form body it was sent), with `+` for a space, JSON-escaped, or inside base64 (an HTTP Basic
 * `Authorization` header carries `client_id:client_secret` that way). A value held under a name
 * that carries credentials (`Authorization`, `Cookie`, `x-api-key`, `refresh_token`, …), and any
 * value that is a whole `Basic …`/`Bearer …` credential, is hidden whatever it holds: it may be a
 * token this package was never told about.
 * @module
 */

/** What a secret is replaced with. */
export const REDACTED = "[REDACTED]";

/** Shorter strings would match by accident; no real secret is this short. */
const MIN_SECRET_LENGTH = 4;

/**
 * Objects looked at per value at most, nearest first. An HTTP client's error can reach a large
 * graph (request, socket, agent); what it quotes of the request sits near the top.
 */
const MAX_NODES = 2_000;

/** Names under which a value is a credential, whatever the value. */
const CREDENTIAL_NAME =
  /^(?:(?:proxy-)?authorization|cookie|set-cookie|x-api-key|x-goog-api-key|api[-_]?key|x-auth-token|(?:access|refresh|id)[-_]?token|client[-_]?secret|password)$/i;

/** A whole header value that is a credential: `Bearer abc`, `Basic dXNlcjpwdw==`. */
const AUTH_VALUE = /^\s*(Basic|Bearer)\s+\S+\s*$/i;

/** The scheme of a credential header value, kept when the rest is hidden. */
const AUTH_SCHEME = /^\s*(Basic|Bearer|Digest|Token|Negotiate)\s+\S/i;

/** A credential quoted in free text, e.g. `Authorization: Bearer eyJ…`. */
const AUTH_IN_TEXT = /\b(Basic|Bearer)[ \t]+([A-Za-z0-9\-._~+/]+=*)/gi;

/** Bearer tokens are long; shorter words after "Bearer" are prose. */
const MIN_BEARER_TOKEN = 16;

/** Finds a set of secrets, compiled once, in any number of strings. */
export interface SecretFinder {
  /** `text` with every secret replaced by {@link REDACTED}; the same string when it holds none. */
  text(text: string): string;
  /**
   * A value held under `key` (a field or header name) with its secrets replaced; hidden whole
   * when the name says it is a credential or the value is a `Basic`/`Bearer` credential.
   */
  value(value: string, key?: PropertyKey): string;
}

/**
 * Compiles `secrets` once for many strings (a webhook body's every field). `undefined` and
 * strings shorter than 4 characters are ignored.
 */
export function secretFinder(secrets: readonly (string | undefined)[]): SecretFinder {
  const needles = [
    ...new Set(
      secrets.filter((s): s is string => typeof s === "string" && s.length >= MIN_SECRET_LENGTH),
    ),
  ].sort((a, b) => b.length - a.length);
  const source = needles.map(encodedForms).join("|");
  const needle: Needles | undefined =
    needles.length === 0
      ? undefined
      : {
          all: new RegExp(source, "g"),
          any: new RegExp(source),
          // Base64 shorter than this cannot hold the shortest secret.
          base64: new RegExp(
            `[A-Za-z0-9+/_-]{${Math.ceil(((needles.at(-1) as string).length * 4) / 3)},}={0,2}`,
            "g",
          ),
        };
  const text = (s: string) => redactText(s, needle);
  return {
    text,
    value(value, key) {
      if (typeof key === "string" && CREDENTIAL_NAME.test(key) && value !== "") {
        return hideCredential(value);
      }
      if (AUTH_VALUE.test(value)) return hideCredential(value);
      return text(value);
    },
  };
}

/**
 * Returns `value` with every occurrence of the given secrets replaced: in strings, the message
 * and stack of errors, own properties and what they hold at any depth (an HTTP client's error
 * often carries the request's `Authorization` header in a nested `config` or `response` object),
 * `Map`s, `Set`s, fetch `Headers`, and the whole `cause` chain. Credential headers are hidden
 * whatever they hold.
 *
 * Nothing is mutated. A value that holds no secret is returned as is, so callers keep its
 * identity; otherwise the parts that lead to a secret are copied (same prototype, cycles kept
 * between the copies) and the rest is shared.
 *
 * @example
 * throw redactSecrets(err, [cred.accessToken, cred.refreshToken, cred.clientSecret]);
 */
export function redactSecrets<T>(value: T, secrets: readonly (string | undefined)[]): T {
  const finder = secretFinder(secrets);
  if (typeof value === "string") return finder.value(value) as T;
  if (!walkable(value)) return value;
  const graph = discover(value, finder);
  if (!graph.get(value)?.dirty) return value;
  try {
    return copyDirty(value, graph, finder) as T;
  } catch {
    // It holds a secret but refuses to be copied (a proxy whose traps throw on a second read):
    // nothing of it may go out.
    return REDACTED as T;
  }
}

// ---------------------------------------------------------------------------------------------
// Strings

/** The secrets, compiled. */
interface Needles {
  /** Replaces every occurrence. */
  all: RegExp;
  /** Tests for one, without the state a global expression keeps. */
  any: RegExp;
  /** Runs of base64 (standard or URL alphabet) long enough to hold one. */
  base64: RegExp;
}

/** Per ASCII character: its forms, compiled once (a token is long and has many of them). */
const ASCII_FORMS = new Map<string, string>();

/**
 * A regular expression source matching `secret` in every encoding it is sent in: each character
 * other than a letter or digit may appear as is, percent-encoded (either case of hex), `+` for a
 * space (forms), or backslash-escaped (JSON).
 */
function encodedForms(secret: string): string {
  let source = "";
  for (const ch of secret) {
    const ascii = ch.charCodeAt(0) < 128;
    let forms = ascii ? ASCII_FORMS.get(ch) : undefined;
    if (forms === undefined) {
      forms = charForms(ch);
      if (ascii) ASCII_FORMS.set(ch, forms);
    }
    source += forms;
  }
  return source;
}

function charForms(ch: string): string {
  if (/^[A-Za-z0-9]$/.test(ch)) return ch;
  const forms = [escapeRegExp(ch), percentEncoded(ch)];
  if (ch === " ") forms.push("\\+");
  if (ch === "/" || ch === '"' || ch === "\\") forms.push(escapeRegExp(`\\${ch}`));
  return `(?:${forms.join("|")})`;
}

function percentEncoded(ch: string): string {
  let source = "";
  for (const byte of Buffer.from(ch, "utf8")) {
    const hex = byte.toString(16).toUpperCase().padStart(2, "0");
    source += "%";
    for (const digit of hex)
      source += /[A-F]/.test(digit) ? `[${digit}${digit.toLowerCase()}]` : digit;
  }
  return source;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

function redactText(s: string, needles: Needles | undefined): string {
  let out = needles === undefined ? s : s.replace(needles.all, REDACTED);
  out = out.replace(AUTH_IN_TEXT, (match, scheme: string, token: string) =>
    isQuotedCredential(scheme, token) ? `${scheme} ${REDACTED}` : match,
  );
  if (needles !== undefined) {
    out = out.replace(needles.base64, (run) =>
      decodesToSecret(run, needles.any) ? REDACTED : run,
    );
  }
  return out;
}

function isQuotedCredential(scheme: string, token: string): boolean {
  if (scheme.toLowerCase() === "bearer") return token.length >= MIN_BEARER_TOKEN;
  // Basic carries base64 of `user:password`; "Basic authentication" does not decode to that.
  return /^[\x20-\x7e]*:[\x20-\x7e]*$/.test(Buffer.from(token, "base64").toString("latin1"));
}

/**
 * Whether a base64 run decodes to text holding a secret. The run may start mid-quantum when
 * glued to the text before it, so every alignment is tried.
 */
function decodesToSecret(run: string, any: RegExp): boolean {
  for (let skip = 0; skip < 4; skip++) {
    if (any.test(Buffer.from(run.slice(skip), "base64").toString("utf8"))) return true;
  }
  return false;
}

/** `Bearer [REDACTED]` keeps the scheme, which says how the credential was sent. */
function hideCredential(value: string): string {
  const scheme = AUTH_SCHEME.exec(value)?.[1];
  return scheme === undefined ? REDACTED : `${scheme} ${REDACTED}`;
}

// ---------------------------------------------------------------------------------------------
// Object graphs

interface NodeInfo {
  /** Holds a secret, or leads to an object that does. */
  dirty: boolean;
  /** The objects found holding this one, to mark them dirty in turn. */
  holders: NodeInfo[];
  /** For an array: the name it was found under, which its items are held under too. */
  key: PropertyKey | undefined;
}

/**
 * Objects whose contents are walked: errors, arrays, plain objects, class instances (an HTTP
 * client's request), `Map`, `Set`, fetch `Headers`, `URL` and `URLSearchParams`. Values whose
 * copy would misbehave or that hold no text are kept as they are.
 */
function walkable(value: unknown): value is object {
  if (typeof value !== "object" || value === null) return false;
  try {
    return !(
      value instanceof Date ||
      value instanceof RegExp ||
      value instanceof WeakMap ||
      value instanceof WeakSet ||
      value instanceof Promise ||
      value instanceof ArrayBuffer ||
      ArrayBuffer.isView(value)
    );
  } catch {
    // A proxy that refuses to tell its prototype (or a revoked one) cannot be read by anyone
    // through its traps: it is kept as it is, and the walk goes on with its siblings.
    return false;
  }
}

function isHeaders(value: object): value is Headers {
  try {
    return Object.prototype.toString.call(value) === "[object Headers]";
  } catch {
    return false;
  }
}

/** Objects rebuilt from their text rather than walked. */
function isUrlLike(value: object): value is URL | URLSearchParams {
  try {
    return value instanceof URL || value instanceof URLSearchParams;
  } catch {
    return false;
  }
}

/**
 * Calls `visit` for each thing `obj` holds, with the name it is held under. Accessors are not
 * called (a getter may have effects), except an error's `stack`.
 */
function eachChild(
  obj: object,
  info: NodeInfo,
  visit: (key: PropertyKey | undefined, child: unknown) => void,
): void {
  if (isHeaders(obj)) {
    for (const [name, value] of obj.entries()) visit(name, value);
    return;
  }
  if (obj instanceof Map) {
    for (const [key, value] of obj) {
      visit(undefined, key);
      visit(typeof key === "string" ? key : undefined, value);
    }
    return;
  }
  if (obj instanceof Set) {
    for (const item of obj) visit(undefined, item);
    return;
  }
  const isArray = Array.isArray(obj);
  for (const key of Reflect.ownKeys(obj)) {
    const desc = Object.getOwnPropertyDescriptor(obj, key);
    if (desc === undefined) continue;
    const child = "value" in desc ? desc.value : key === "stack" ? readStack(obj) : undefined;
    visit(isArray && key !== "length" ? info.key : key, child);
  }
}

function readStack(obj: object): unknown {
  try {
    return (obj as { stack?: unknown }).stack;
  } catch {
    return undefined;
  }
}

/** Breadth first, so what lies near the top is looked at before the budget runs out. */
function discover(root: object, finder: SecretFinder): Map<object, NodeInfo> {
  const graph = new Map<object, NodeInfo>();
  const dirty: NodeInfo[] = [];
  const queue: object[] = [root];
  graph.set(root, { dirty: false, holders: [], key: undefined });
  for (let i = 0; i < queue.length; i++) {
    const obj = queue[i] as object;
    const info = graph.get(obj) as NodeInfo;
    if (isUrlLike(obj)) {
      if (finder.text(String(obj)) !== String(obj)) dirty.push(info);
      continue;
    }
    try {
      eachChild(obj, info, (key, child) => {
        if (typeof child === "string") {
          if (!info.dirty && finder.value(child, key) !== child) {
            info.dirty = true;
            dirty.push(info);
          }
          return;
        }
        if (!walkable(child)) return;
        let childInfo = graph.get(child);
        if (childInfo === undefined) {
          if (graph.size >= MAX_NODES) return;
          childInfo = { dirty: false, holders: [], key };
          graph.set(child, childInfo);
          queue.push(child);
        }
        childInfo.holders.push(info);
      });
    } catch {
      // A proxy or an exotic object that refuses to be read: it is kept as it is.
    }
  }
  // Whatever leads to a secret is copied too, up to the root.
  for (let i = 0; i < dirty.length; i++) {
    const info = dirty[i] as NodeInfo;
    info.dirty = true;
    for (const holder of info.holders) {
      if (!holder.dirty) {
        holder.dirty = true;
        dirty.push(holder);
      }
    }
  }
  return graph;
}

/** Copies every dirty object, pointing copies at copies; clean objects are shared. */
function copyDirty(root: object, graph: Map<object, NodeInfo>, finder: SecretFinder): unknown {
  const copies = new Map<object, unknown>();
  for (const [obj, info] of graph) if (info.dirty) copies.set(obj, shell(obj, finder));
  const mapped = (key: PropertyKey | undefined, child: unknown): unknown => {
    if (typeof child === "string") return finder.value(child, key);
    return typeof child === "object" && child !== null && copies.has(child)
      ? copies.get(child)
      : child;
  };
  for (const [obj, copy] of copies) {
    const info = graph.get(obj) as NodeInfo;
    if (copy instanceof Map && obj instanceof Map) {
      for (const [key, value] of obj) {
        copy.set(mapped(undefined, key), mapped(typeof key === "string" ? key : undefined, value));
      }
    } else if (copy instanceof Set && obj instanceof Set) {
      for (const item of obj) copy.add(mapped(undefined, item));
    } else if (typeof copy === "object" && copy !== null && !isHeaders(obj) && !isUrlLike(obj)) {
      fillProperties(obj, copy, info, mapped);
    }
  }
  return copies.get(root);
}

/** An empty copy of `obj` to fill, or the finished copy of a leaf (`Headers`, `URL`). */
function shell(obj: object, finder: SecretFinder): unknown {
  const proto = Object.getPrototypeOf(obj) as object | null;
  if (isHeaders(obj)) {
    const copy = new Headers();
    for (const [name, value] of obj.entries()) copy.append(name, finder.value(value, name));
    return copy;
  }
  if (isUrlLike(obj)) {
    const text = finder.text(String(obj));
    try {
      return obj instanceof URL ? new URL(text) : new URLSearchParams(text);
    } catch {
      return text;
    }
  }
  const copy: object =
    obj instanceof Map
      ? new Map()
      : obj instanceof Set
        ? new Set()
        : Array.isArray(obj)
          ? []
          : Object.create(proto);
  if (Object.getPrototypeOf(copy) !== proto) Object.setPrototypeOf(copy, proto);
  return copy;
}

function fillProperties(
  obj: object,
  copy: object,
  info: NodeInfo,
  mapped: (key: PropertyKey | undefined, child: unknown) => unknown,
): void {
  const isArray = Array.isArray(obj);
  for (const key of Reflect.ownKeys(obj)) {
    const desc = Object.getOwnPropertyDescriptor(obj, key);
    if (desc === undefined) continue;
    if (!("value" in desc) && key === "stack") {
      Object.defineProperty(copy, key, {
        value: mapped(key, readStack(obj)),
        writable: true,
        enumerable: desc.enumerable ?? false,
        configurable: true,
      });
      continue;
    }
    if ("value" in desc)
      desc.value = mapped(isArray && key !== "length" ? info.key : key, desc.value);
    Object.defineProperty(copy, key, desc);
  }
}
