// One generation at a time: on a CPU they would only compete for the same cores. Requests wait
// in arrival order; one whose client went away while waiting leaves the queue without running.

export class GenerationQueue {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly maxWaiting: number) {}

  /** How many requests wait behind the running one. */
  get length(): number {
    return this.waiting;
  }

  isFull(): boolean {
    return this.waiting >= this.maxWaiting;
  }

  /** Runs `job` after every earlier job; rejects with the signal's reason if aborted while waiting. */
  run<T>(job: () => Promise<T>, signal: AbortSignal): Promise<T> {
    this.waiting += 1;
    const turn = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    const started = turn.then(() => {
      this.waiting -= 1;
      if (signal.aborted) throw new Error("the client disconnected before its generation started");
      return job();
    });
    void started.finally(release).catch(() => undefined);
    return started;
  }
}
