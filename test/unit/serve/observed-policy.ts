// A real policy with a record of what happened to each generation (start, settle, finish
// reason), so tests can see cancellations and queueing that the HTTP client cannot.
import type { FinishReason, Policy } from "../../../server/policy/types";

export interface PolicyEvents {
  log: string[];
  finishReasons: FinishReason[];
  /** Resolves when `count` generations have settled. */
  settled(count: number): Promise<void>;
}

export function observePolicy(policy: Policy): { policy: Policy; events: PolicyEvents } {
  const log: string[] = [];
  const finishReasons: FinishReason[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let settledCount = 0;
  const settle = () => {
    settledCount += 1;
    for (const w of waiters.filter((w) => w.count <= settledCount)) w.resolve();
  };
  let started = 0;
  const observed: Policy = {
    name: policy.name,
    encodeChat: (messages) => policy.encodeChat(messages),
    isLoaded: () => policy.isLoaded(),
    unload: () => policy.unload(),
    generate(prompt, options) {
      const id = ++started;
      log.push(`start ${id}`);
      const generation = policy.generate(prompt, options);
      generation.result.then(
        (r) => {
          finishReasons.push(r.finishReason);
          log.push(`end ${id}`);
          settle();
        },
        () => {
          log.push(`fail ${id}`);
          settle();
        },
      );
      return generation;
    },
  };
  return {
    policy: observed,
    events: {
      log,
      finishReasons,
      settled: (count) => (settledCount >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
    },
  };
}
