/**
 * YAML text to values, with errors that give a line and column and never quote the source.
 * @module
 */
import {
  type Document,
  type ErrorCode,
  isScalar,
  LineCounter,
  parseDocument,
  visit,
  type YAMLError,
} from "yaml";
import type { ConfigIssue } from "../errors.js";
import { messageOf } from "../errors.js";
import { showKey } from "./path.js";

/** A garbage file yields an error per token; past this many they say nothing new. */
const MAX_YAML_ISSUES = 20;
/** Aliases expanded when converting to values: enough for sharing, too few for a billion laughs. */
const MAX_ALIAS_COUNT = 100;

// Our own wording: the parser's messages quote the source line, which may hold a secret.
const MESSAGES: Partial<Record<ErrorCode, string>> = {
  DUPLICATE_KEY: "duplicate key (keys in a mapping must be unique)",
  BAD_INDENT: "bad indentation",
  TAB_AS_INDENT: "tabs are not allowed as indentation",
  MULTIPLE_DOCS: "more than one YAML document",
  BAD_DQ_ESCAPE: "invalid escape sequence in a double-quoted string",
  MISSING_CHAR: "a closing quote or bracket is missing",
  BLOCK_AS_IMPLICIT_KEY: "a nested mapping is not allowed on the same line as its key",
  MULTILINE_IMPLICIT_KEY: "a key must fit on one line",
  KEY_OVER_1024_CHARS: "a key is longer than 1024 characters",
  UNEXPECTED_TOKEN: "unexpected content",
  BAD_SCALAR_START: "a plain value cannot start with this character: quote it",
  BAD_ALIAS: "invalid alias",
  ALIAS_PROPS: "an alias cannot have an anchor or tag",
  MULTIPLE_ANCHORS: "more than one anchor on a value",
  MULTIPLE_TAGS: "more than one tag on a value",
  BAD_PROP_ORDER: "an anchor or tag is misplaced",
  BAD_DIRECTIVE: "invalid directive",
  BLOCK_IN_FLOW: "a block collection cannot appear inside a flow collection",
  RESOURCE_EXHAUSTION: "the document is too large or too deeply nested",
};

const at = (pos: { line: number; col: number } | undefined) =>
  pos && pos.line > 0 ? ` at line ${pos.line}, column ${pos.col}` : "";

/** The result of {@link readYaml}: the document's value (maps as `Map`), or its problems. */
export type YamlResult = { ok: true; value: unknown } | { ok: false; issues: ConfigIssue[] };

/** An issue and where in the text it is, so that issues can be listed in reading order. */
interface PlacedIssue {
  offset: number;
  issue: ConfigIssue;
}

/**
 * Parses one YAML 1.2 document, naming the line and column of every syntax error and rejecting
 * duplicate keys and a second document: a value silently dropped is worse than a refusal.
 * Maps come back as `Map` so that keys keep their type until the caller decides what they mean.
 */
export function readYaml(text: string): YamlResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    uniqueKeys: true,
    prettyErrors: true,
    lineCounter,
    // "silent" would also drop the error for a second document; "error" still prints nothing.
    logLevel: "error",
  });
  if (doc.errors.length > 0) {
    // The parser places a duplicate after an empty value on the line before; find them ourselves.
    const duplicates = findDuplicateKeys(doc, lineCounter);
    const useOwn = duplicates.length > 0;
    const placed = [
      ...duplicates,
      ...doc.errors
        .filter((e) => !(useOwn && e.code === "DUPLICATE_KEY"))
        .map((e) => parserIssue(e)),
    ];
    const issues = placed.sort((a, b) => a.offset - b.offset).map((p) => p.issue);
    const shown = issues.slice(0, MAX_YAML_ISSUES);
    if (issues.length > MAX_YAML_ISSUES) {
      shown.push({ path: "", message: `and ${issues.length - MAX_YAML_ISSUES} more YAML errors` });
    }
    return { ok: false, issues: shown };
  }
  try {
    return { ok: true, value: doc.toJS({ mapAsMap: true, maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (err) {
    const message = messageOf(err).includes("alias count")
      ? `invalid YAML: more than ${MAX_ALIAS_COUNT} alias expansions`
      : err instanceof ReferenceError
        ? "invalid YAML: an alias refers to an anchor that is not defined before it"
        : "invalid YAML";
    return { ok: false, issues: [{ path: "", message }] };
  }
}

function parserIssue(error: YAMLError): PlacedIssue {
  const what = MESSAGES[error.code] ?? `invalid YAML (${error.code})`;
  return {
    offset: error.pos[0],
    issue: { path: "", message: `invalid YAML${at(error.linePos?.[0])}: ${what}` },
  };
}

function findDuplicateKeys(doc: Document, lineCounter: LineCounter): PlacedIssue[] {
  const issues: PlacedIssue[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Map<unknown, number>();
      for (const pair of map.items) {
        if (!isScalar(pair.key) || !pair.key.range) continue;
        const key = pair.key.value;
        const offset = pair.key.range[0];
        const first = seen.get(key);
        if (first === undefined) {
          seen.set(key, offset);
          continue;
        }
        const name = typeof key === "string" ? ` ${showKey(key)}` : "";
        issues.push({
          offset,
          issue: {
            path: "",
            message: `invalid YAML${at(lineCounter.linePos(offset))}: duplicate key${name} (first at line ${lineCounter.linePos(first).line}; keys in a mapping must be unique)`,
          },
        });
      }
    },
  });
  return issues;
}
