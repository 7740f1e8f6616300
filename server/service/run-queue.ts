// Backpressure for test runs: at most `concurrency` runs at once, at most `maxQueued` waiting. A run that
// finds the queue full is refused at once (the client gets "overloaded" and retries) instead of piling
// up without bound; the sandbox's own worker pool then limits the processes inside the running ones.
import { ServiceError } from "./protocol";

export class RunQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private peakWaiting = 0;

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`run concurrency must be a positive integer, got ${concurrency}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError(`run queue bound must be a non-negative integer, got ${maxQueued}`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  get peakQueued(): number {
    return this.peakWaiting;
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueued) {
        throw new ServiceError("overloaded", `the test-run queue is full (${this.maxQueued} waiting); retry later`);
      }
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.peakWaiting = Math.max(this.peakWaiting, this.waiting.length);
      });
    } else {
      this.running++;
    }
    try {
      return await job();
    } finally {
      // Hand the slot straight to the next waiting run, or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
