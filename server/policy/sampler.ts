// Picks the next token from one row of logits, with transformers' semantics: repetition
// penalty on the logits, then greedy, or temperature, top-k and nucleus (top-p) sampling
// driven by a seeded PRNG so that a seed reproduces a completion.

export interface SamplerSettings {
  /** 0 = greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 disables truncation. */
  topP: number;
  /** Keep the k most probable tokens; 0 disables. */
  topK: number;
  /** > 0; 1 disables. */
  repetitionPenalty: number;
}

export interface SampledToken {
  tokenId: number;
  /** Log-probability at the sampling temperature (1 when greedy), before top-k/top-p truncation. */
  logprob: number;
}

export function validateSamplerSettings(settings: SamplerSettings): void {
  const { temperature, topP, topK, repetitionPenalty } = settings;
  if (!Number.isFinite(temperature) || temperature < 0) {
    throw new Error(`temperature must be a finite number >= 0, got ${temperature}`);
  }
  if (!Number.isFinite(topP) || topP <= 0 || topP > 1) throw new Error(`topP must be in (0, 1], got ${topP}`);
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`topK must be an integer >= 0, got ${topK}`);
  if (!Number.isFinite(repetitionPenalty) || repetitionPenalty <= 0) {
    throw new Error(`repetitionPenalty must be a finite number > 0, got ${repetitionPenalty}`);
  }
}

/**
 * transformers' RepetitionPenaltyLogitsProcessor: every distinct token id in `sequence` has its
 * logit divided by the penalty when positive and multiplied when negative. Changes `logits`.
 */
export function applyRepetitionPenalty(logits: Float32Array, sequence: ReadonlySet<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of sequence) {
    if (id < 0 || id >= logits.length) continue;
    const logit = logits[id];
    logits[id] = logit < 0 ? logit * penalty : logit / penalty;
  }
}

export function sampleToken(logits: Float32Array, settings: SamplerSettings, random: () => number): SampledToken {
  if (logits.length === 0) throw new Error("cannot sample from an empty logits row");
  if (settings.temperature === 0) return greedyToken(logits);
  const invTemperature = 1 / settings.temperature;

  // First maximum wins ties, as torch.argmax does.
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  const maxLogit = logits[best];
  if (!Number.isFinite(maxLogit)) throw new Error(`model produced a non-finite logit (${maxLogit})`);

  // Unnormalised probabilities relative to the best token (whose weight is exactly 1).
  const weights = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    const w = expNonPositive((logits[i] - maxLogit) * invTemperature);
    if (Number.isNaN(w)) throw new Error(`model produced a NaN logit at token ${i}`);
    weights[i] = w;
    total += w;
  }
  const logprob = (id: number) => Math.log(weights[id] / total);

  let kept = total;
  if (settings.topK > 0 && settings.topK < weights.length) kept = keepTopK(weights, settings.topK);
  const u = random();
  const chosen = settings.topP < 1 ? drawFromNucleus(weights, kept, settings.topP, u) : drawFromAll(weights, kept, u);
  return { tokenId: chosen, logprob: logprob(chosen) };
}

// exp(x) for x <= 0, the only arguments the sampler needs (logits minus their maximum). Every
// token pays one exp per vocabulary entry, and V8's Math.exp is an out-of-line call: the greedy
// log-prob over a 150k vocabulary took 1.1 ms per token with it, 0.44 ms with this and the single
// pass of greedyToken (bench: a 0.5B model's token is ~65 ms). x = -(n/8)·ln 2 + r, |r| <= ln2/16, so
// exp(x) = 2^(-n/8) · exp(r): the power comes from a table and exp(r) from a degree-5 Taylor
// polynomial (truncation below 1e-11 relative, far under the float32 logits' own precision).
const EXP_TABLE_STEPS = 8;
const EXP_CUTOFF = -708; // below this, exp(x) < 1e-307: nothing next to the maximum's weight of 1
const EXP_SCALE = Math.LOG2E * EXP_TABLE_STEPS;
const EXP_STEP = Math.LN2 / EXP_TABLE_STEPS;
const POW2_TABLE = Float64Array.from({ length: Math.ceil(-EXP_CUTOFF * EXP_SCALE) + 2 }, (_, n) => 2 ** (-n / EXP_TABLE_STEPS));

/** exp(x) for x <= 0 (NaN gives NaN); callers pass a logit minus the maximum logit. */
export function expNonPositive(x: number): number {
  if (x < EXP_CUTOFF) return 0;
  const n = (0.5 - x * EXP_SCALE) | 0; // round(-x / (ln2/8))
  const r = x + n * EXP_STEP;
  return POW2_TABLE[n] * (1 + r * (1 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120))))));
}

/**
 * Argmax and its log-prob in one pass over the row (a 150k vocabulary is read once, not twice):
 * the normaliser is kept relative to the maximum so far and rescaled when a larger one appears,
 * which happens a handful of times per row.
 */
function greedyToken(logits: Float32Array): SampledToken {
  let best = 0;
  let max = logits[0];
  let total = 1; // exp(max - max)
  for (let i = 1; i < logits.length; i++) {
    const x = logits[i];
    // Strictly greater: the first maximum wins ties, as torch.argmax does.
    if (x > max) {
      total = total * Math.exp(max - x) + 1;
      max = x;
      best = i;
    } else {
      total += expNonPositive(x - max);
    }
  }
  if (!Number.isFinite(max)) throw new Error(`model produced a non-finite logit (${max})`);
  if (Number.isNaN(total)) throw new Error("model produced a NaN logit");
  return { tokenId: best, logprob: -Math.log(total) };
}

/** Zeroes every weight below the k-th largest (ties with it are kept, as in transformers); returns the mass left. */
function keepTopK(weights: Float64Array, k: number): number {
  // A small sorted list of the k largest seen so far: k is tens, the vocabulary 10^5.
  const top: number[] = [];
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (top.length === k && w <= top[k - 1]) continue;
    let at = top.length;
    while (at > 0 && top[at - 1] < w) at--;
    top.splice(at, 0, w);
    if (top.length > k) top.pop();
  }
  const kth = top[k - 1];
  let kept = 0;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] < kth) weights[i] = 0;
    else kept += weights[i];
  }
  return kept;
}

function drawFromAll(weights: Float64Array, total: number, u: number): number {
  let remaining = u * total;
  let last = 0;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] === 0) continue;
    last = i;
    remaining -= weights[i];
    if (remaining < 0) return i;
  }
  return last; // rounding left a sliver: the last token with weight takes it
}

/**
 * The nucleus is the smallest set of most probable tokens whose mass reaches topP. Sorting a
 * 150k vocabulary every token is slow, so candidates are first cut to the tokens above a
 * weight threshold, lowered until the kept mass already reaches topP; a token below it can
 * never be in the nucleus, so the result is exact.
 */
function drawFromNucleus(weights: Float64Array, total: number, topP: number, u: number): number {
  const target = topP * total;
  let threshold = 1;
  let candidates: number[] = [];
  for (;;) {
    threshold /= 16;
    candidates = [];
    let kept = 0;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i] > 0 && weights[i] >= threshold) {
        candidates.push(i);
        kept += weights[i];
      }
    }
    if (kept >= target || threshold < 1e-300) break;
  }
  // Ties broken by id so the order, and hence the draw, is reproducible.
  candidates.sort((a, b) => weights[b] - weights[a] || a - b);
  let nucleusSize = 0;
  let nucleusMass = 0;
  while (nucleusSize < candidates.length && nucleusMass < target) nucleusMass += weights[candidates[nucleusSize++]];
  let remaining = u * nucleusMass;
  for (let k = 0; k < nucleusSize; k++) {
    remaining -= weights[candidates[k]];
    if (remaining < 0) return candidates[k];
  }
  return candidates[nucleusSize - 1];
}
