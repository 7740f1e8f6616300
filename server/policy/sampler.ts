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
  const greedy = settings.temperature === 0;
  const invTemperature = greedy ? 1 : 1 / settings.temperature;

  // First maximum wins ties, as torch.argmax does.
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  const maxLogit = logits[best];
  if (!Number.isFinite(maxLogit)) throw new Error(`model produced a non-finite logit (${maxLogit})`);

  if (greedy) {
    // Only the normaliser is needed for the log-prob: no weights array per token.
    let total = 0;
    for (let i = 0; i < logits.length; i++) total += Math.exp(logits[i] - maxLogit);
    if (Number.isNaN(total)) throw new Error("model produced a NaN logit");
    return { tokenId: best, logprob: -Math.log(total) };
  }

  // Unnormalised probabilities relative to the best token (whose weight is exactly 1).
  const weights = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    const w = Math.exp((logits[i] - maxLogit) * invTemperature);
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
