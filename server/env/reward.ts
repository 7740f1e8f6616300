// The environment's per-turn reward r_t (spec/rlef.md §3). The KL term of R_t = r_t − β·KL_t is the
// trainer's business: it needs the policies' log-probabilities, which the environment never sees.

export const REWARD_SOLVED = 1;
export const REWARD_FAILED = -1;
/** Added for a turn whose response had no extractable code; stacks with ±1 on the final turn (project choice). */
export const REWARD_INVALID_RESPONSE = -0.2;

export interface TurnOutcome {
  /** The response had no extractable code. */
  invalid: boolean;
  /** This is the episode's last turn (early stop or turn limit). */
  final: boolean;
  /** Final turn only: the final code passed every public and private test. */
  passedAllTests?: boolean;
}

export function turnReward(turn: TurnOutcome): number {
  let r = turn.invalid ? REWARD_INVALID_RESPONSE : 0;
  if (turn.final) {
    if (turn.passedAllTests === undefined) throw new Error("turnReward: a final turn needs passedAllTests");
    r += turn.passedAllTests ? REWARD_SOLVED : REWARD_FAILED;
  }
  return r;
}
