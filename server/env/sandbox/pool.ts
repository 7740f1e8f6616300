// Limits how many programs run at once (one per core by default): more would only make every run slower
// and turn honest solutions into timeouts. Waiting runs leave the queue when their signal aborts.

export class AbortedWhileQueued extends Error {
  constructor() {
    super("cancelled while waiting for a free sandbox worker");
  }
}

export class WorkerPool {
  private running = 0;
  private readonly waiting: Array<{ start: () => void; fail: (error: Error) => void }> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`sandbox workers must be a positive integer, got ${size}`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `task` when a worker is free; rejects with AbortedWhileQueued if `signal` aborts first. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Rejects every queued run (used by dispose). */
  rejectQueued(error: Error): void {
    for (const entry of this.waiting.splice(0)) entry.fail(error);
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedWhileQueued());
    if (this.running < this.size) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = this.waiting.indexOf(entry);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new AbortedWhileQueued());
      };
      const entry = {
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          this.running++;
          resolve();
        },
        fail: (error: Error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.start();
  }
}
