// What a training run reports, as the trainer writes it to metrics.jsonl / eval.jsonl and streams it
// (trainer/rlef_trainer/train.py, progress.py): one metrics object per iteration and one evaluation record
// per evaluation. Both arrive from another process or from disk, so both are schema-checked here, once, for
// the stream client and the run-folder reader alike. NaN and infinities travel as null.
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";

/** One iteration's metrics: `iteration` (1-based) and every other quantity by the trainer's name for it
 * (solve_rate, first_turn_solve_rate, episode_reward, kl_per_turn, policy_loss, lr, iteration_seconds, ...). */
export type IterationMetrics = { iteration: number } & Record<string, number | null>;

/** One split's evaluation: `problems`, `draws`, and rates such as `mt_1at3` with `mt_1at3_low` / `_high`. */
export type SplitRates = Record<string, number | null>;

/** One evaluation, its splits (e.g. "valid", "humaneval_plus") taken out of the trainer's flat record. */
export interface EvaluationRecord {
  iteration: number;
  seconds: number | null;
  splits: Record<string, SplitRates>;
}

const quantity = { type: ["number", "null"] };
const iterationNumber = { type: "integer", minimum: 0 };

const ITERATION_METRICS_SCHEMA = {
  type: "object",
  required: ["iteration"],
  properties: { iteration: iterationNumber },
  additionalProperties: quantity,
};

/** The trainer's flat form: {"iteration", "<split>": {...rates}, ..., "seconds"}. */
const EVALUATION_RECORD_SCHEMA = {
  type: "object",
  required: ["iteration"],
  properties: { iteration: iterationNumber, seconds: quantity },
  additionalProperties: { type: "object", additionalProperties: quantity },
};

let ajv: Ajv | null = null;

/** A validator compiled on first use: the extension loads this module at activation, long before any dashboard. */
export function lazyValidator(schema: object): (value: unknown) => { ok: true } | { ok: false; errors: ErrorObject[] | null | undefined } {
  let validate: ValidateFunction | null = null;
  return (value) => {
    validate ??= (ajv ??= new Ajv({ allErrors: false, strict: true, allowUnionTypes: true })).compile(schema);
    return validate(value) ? { ok: true } : { ok: false, errors: validate.errors };
  };
}

const validateMetrics = lazyValidator(ITERATION_METRICS_SCHEMA);
const validateEvaluation = lazyValidator(EVALUATION_RECORD_SCHEMA);

/** Thrown for a value that is not what the trainer writes; the message names what is wrong and where. */
export class RecordError extends Error {
  override name = "RecordError";
}

export function parseIterationMetrics(value: unknown, what = "metrics"): IterationMetrics {
  const checked = validateMetrics(value);
  if (!checked.ok) throw new RecordError(describeSchemaErrors(what, checked.errors));
  return value as IterationMetrics;
}

export function parseEvaluationRecord(value: unknown, what = "evaluation"): EvaluationRecord {
  const checked = validateEvaluation(value);
  if (!checked.ok) throw new RecordError(describeSchemaErrors(what, checked.errors));
  const { iteration, seconds, ...splits } = value as { iteration: number; seconds?: number | null } & Record<string, SplitRates>;
  return { iteration, seconds: seconds ?? null, splits };
}

/** "metrics.solve_rate must be number,null", from ajv's first error. */
export function describeSchemaErrors(what: string, errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return `${what} is invalid`;
  const where = what + e.instancePath.replace(/\/(\d+)/g, "[$1]").replace(/\//g, ".");
  if (e.keyword === "additionalProperties" && typeof e.params.additionalProperty === "string") {
    return `${where} has an unknown field ${JSON.stringify(e.params.additionalProperty)}`;
  }
  // For additionalProperties schemas ajv names the offending key only in the path, which is already there.
  return `${where} ${e.message ?? "is invalid"}`;
}
