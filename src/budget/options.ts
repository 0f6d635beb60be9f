/**
 * Usage budgets: what can be configured, and its check.
 * @module
 */
import { describeSetting } from "../describe.js";
import { nonNegative, positiveNumber } from "../option-checks.js";
import { rejectUnknownKeys } from "../suggest.js";

/** The windows a budget counts over: UTC hours, days and calendar months. */
export type BudgetWindow = "hour" | "day" | "month";

/** Every {@link BudgetWindow}, shortest first. */
export const BUDGET_WINDOWS: readonly BudgetWindow[] = ["hour", "day", "month"];

/** The limit of one window: tokens, cost, or both (whichever is reached first counts). */
export interface BudgetLimit {
  /** Prompt + completion tokens. */
  tokens?: number;
  /** In the currency of `prices`. */
  cost?: number;
}

/** Limits per window; a window left out is not limited. */
export type BudgetLimits = Partial<Record<BudgetWindow, BudgetLimit>>;

/** A model's price per million tokens. */
export interface ModelPrice {
  /** Per million prompt tokens. */
  input: number;
  /** Per million completion tokens. */
  output: number;
}

/** Usage budgets of one manager. */
export interface BudgetOptions {
  /** Limits of every credential. @default {} */
  credential?: BudgetLimits;
  /** Limits of single credentials, by id, replacing `credential` for them. @default {} */
  credentials?: Record<string, BudgetLimits>;
  /** Limits of the whole pool (every credential together). @default {} */
  provider?: BudgetLimits;
  /**
   * Prices by model name (`usage.model` of an operation's result), for cost limits; `"*"`
   * prices a model not listed. Tokens of a request without a priced model cost nothing.
   * @default {}
   */
  prices?: Record<string, ModelPrice>;
  /** Share of a limit at which a warning alert goes out, once per window. @default 0.8 */
  alertAt?: number;
  /**
   * At 100 % of a limit the credential (for a provider limit, every credential) leaves selection
   * until its window ends. @default false (alerts only)
   */
  enforce?: boolean;
  /** How often the counters are written to the token store, when one is configured. @default 60_000 */
  flushIntervalMs?: number;
}

/** {@link BudgetOptions} checked, with defaults. */
export interface ResolvedBudgets {
  credential: BudgetLimits;
  credentials: Record<string, BudgetLimits>;
  provider: BudgetLimits;
  prices: Record<string, ModelPrice>;
  alertAt: number;
  enforce: boolean;
  flushIntervalMs: number;
}

const KEYS = [
  "credential",
  "credentials",
  "provider",
  "prices",
  "alertAt",
  "enforce",
  "flushIntervalMs",
];

/**
 * Checks budget options and fills in the defaults.
 * @throws {TypeError} for an unknown key (naming the nearest known one) or a value out of range
 */
export function resolveBudgets(value: unknown): ResolvedBudgets {
  const o = record(value, "budgets");
  rejectUnknownKeys(o, KEYS, "budgets.");
  const credentials: Record<string, BudgetLimits> = {};
  for (const [id, limits] of Object.entries(record(o.credentials ?? {}, "budgets.credentials"))) {
    credentials[id] = limitsOf(limits, `budgets.credentials.${id}`);
  }
  const prices: Record<string, ModelPrice> = {};
  for (const [model, price] of Object.entries(record(o.prices ?? {}, "budgets.prices"))) {
    const p = record(price, `budgets.prices.${model}`);
    rejectUnknownKeys(p, ["input", "output"], `budgets.prices.${model}.`);
    prices[model] = {
      input: nonNegative(p.input, `budgets.prices.${model}.input`),
      output: nonNegative(p.output, `budgets.prices.${model}.output`),
    };
  }
  const alertAt = o.alertAt ?? 0.8;
  if (typeof alertAt !== "number" || !(alertAt > 0 && alertAt <= 1)) {
    throw new TypeError(
      `Expected \`budgets.alertAt\` to be a share in (0, 1], got ${describeSetting(alertAt)}`,
    );
  }
  if (o.enforce !== undefined && typeof o.enforce !== "boolean") {
    throw new TypeError(
      `Expected \`budgets.enforce\` to be a boolean, got ${describeSetting(o.enforce)}`,
    );
  }
  const flush = o.flushIntervalMs ?? 60_000;
  if (typeof flush !== "number" || !Number.isFinite(flush) || flush < 1) {
    throw new TypeError(
      `Expected \`budgets.flushIntervalMs\` to be milliseconds >= 1, got ${describeSetting(flush)}`,
    );
  }
  return {
    credential: limitsOf(o.credential ?? {}, "budgets.credential"),
    credentials,
    provider: limitsOf(o.provider ?? {}, "budgets.provider"),
    prices,
    alertAt,
    enforce: o.enforce === true,
    flushIntervalMs: flush,
  };
}

function limitsOf(value: unknown, path: string): BudgetLimits {
  const o = record(value, path);
  rejectUnknownKeys(o, BUDGET_WINDOWS, `${path}.`);
  const out: BudgetLimits = {};
  for (const window of BUDGET_WINDOWS) {
    if (o[window] === undefined) continue;
    const l = record(o[window], `${path}.${window}`);
    rejectUnknownKeys(l, ["tokens", "cost"], `${path}.${window}.`);
    const limit: BudgetLimit = {};
    if (l.tokens !== undefined) limit.tokens = positiveNumber(l.tokens, `${path}.${window}.tokens`);
    if (l.cost !== undefined) limit.cost = positiveNumber(l.cost, `${path}.${window}.cost`);
    out[window] = limit;
  }
  return out;
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected \`${path}\` to be an object, got ${describeSetting(value)}`);
  }
  return value as Record<string, unknown>;
}
