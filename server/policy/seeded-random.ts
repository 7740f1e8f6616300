// The sampler's own PRNG, so that a seed reproduces a completion on any machine and Node
// version (Math.random cannot be seeded). SplitMix32 spreads the seed, mulberry32 draws.

/** Returns a function giving uniform doubles in [0, 1), fully determined by `seed`. */
export function seededRandom(seed: number): () => number {
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be a safe integer, got ${seed}`);
  // Fold the high bits in so that seeds differing only above bit 32 still differ.
  let state = splitMix32((seed | 0) ^ Math.floor(seed / 2 ** 32)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function splitMix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return z ^ (z >>> 16);
}
