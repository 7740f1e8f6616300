// Holds a loaded resource (a model session) and releases it after it has been idle for a
// while, so a model the user stopped using gives its memory back; the next use loads it again.

export class IdleUnloader<T> {
  private loaded: Promise<T> | undefined;
  private users = 0;
  private timer: NodeJS.Timeout | undefined;
  private unloadRequested = false;

  /** `idleMs` of 0 keeps the resource loaded until `unload()`. */
  constructor(
    private readonly load: () => Promise<T>,
    private readonly release: (value: T) => Promise<void>,
    private readonly idleMs: number,
  ) {
    if (!Number.isFinite(idleMs) || idleMs < 0) throw new Error(`idle unload timeout must be >= 0 ms, got ${idleMs}`);
  }

  get isLoaded(): boolean {
    return this.loaded !== undefined;
  }

  /** Runs `work` with the resource loaded; the idle clock starts when the last user finishes. */
  async use<R>(work: (value: T) => Promise<R>): Promise<R> {
    this.cancelTimer();
    this.users++;
    try {
      if (this.loaded === undefined) {
        const loading = this.load();
        this.loaded = loading;
        loading.catch(() => {
          // A failed load is not cached: the next use tries again.
          if (this.loaded === loading) this.loaded = undefined;
        });
      }
      return await work(await this.loaded);
    } finally {
      this.users--;
      if (this.users === 0 && this.unloadRequested) {
        this.releaseInBackground();
      } else if (this.users === 0 && this.idleMs > 0) {
        this.timer = setTimeout(() => this.releaseInBackground(), this.idleMs);
        // An idle model must not keep the process alive.
        this.timer.unref();
      }
    }
  }

  /** Releases now, or, while a use is running, as soon as the last one finishes. */
  async unload(): Promise<void> {
    this.cancelTimer();
    if (this.users > 0) {
      this.unloadRequested = true;
      return;
    }
    this.unloadRequested = false;
    if (this.loaded === undefined) return;
    const loading = this.loaded;
    this.loaded = undefined;
    await this.release(await loading);
  }

  private releaseInBackground(): void {
    this.unload().catch((error: unknown) => {
      // Nobody awaits a timer: report instead of dropping the error.
      process.emitWarning(`unloading an idle model failed: ${(error as Error).message}`);
    });
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
