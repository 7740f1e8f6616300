import type { Sandbox } from "../sandbox/types";

export interface RunOptions {
  sandbox: Sandbox;
  /** Which tests to run: the public ones (feedback, early stop) or all (final reward, evaluation). */
  which: "public" | "all";
  /** Multiplies every time limit (verify uses it so machine load cannot flip a verdict). Default 1. */
  timeMultiplier?: number;
  /** Stop after the first test that does not pass (verify's must-fail programs need only one). Default false. */
  stopAtFirstFailure?: boolean;
  signal?: AbortSignal;
}
