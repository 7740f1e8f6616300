// Solve rates and their uncertainty (spec/rlef.md §5): the solve rate is the mean over problems of the
// fraction of draws that solve the problem; the 95% interval is a percentile bootstrap over problems.

export interface SolveRate {
  rate: number;
  low: number;
  high: number;
  problems: number;
  draws: number;
}

/** A small seeded PRNG (mulberry32), so intervals are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** `perProblem`: for each problem, the outcome (true = solved) of each of its draws. */
export function solveRate(perProblem: readonly (readonly boolean[])[], options: { resamples?: number; seed?: number } = {}): SolveRate {
  const fractions = perProblem.filter((d) => d.length > 0).map((d) => d.filter(Boolean).length / d.length);
  const draws = perProblem.reduce((s, d) => s + d.length, 0);
  if (fractions.length === 0) return { rate: NaN, low: NaN, high: NaN, problems: 0, draws };
  const rate = mean(fractions);
  const resamples = options.resamples ?? 2000;
  const next = rng(options.seed ?? 0);
  const means: number[] = [];
  for (let b = 0; b < resamples; b++) {
    let sum = 0;
    for (let i = 0; i < fractions.length; i++) sum += fractions[Math.floor(next() * fractions.length)];
    means.push(sum / fractions.length);
  }
  means.sort((x, y) => x - y);
  const at = (q: number) => means[Math.min(means.length - 1, Math.max(0, Math.floor(q * means.length)))];
  return { rate, low: at(0.025), high: at(0.975), problems: fractions.length, draws };
}
