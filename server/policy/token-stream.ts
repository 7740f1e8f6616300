// A one-consumer async queue between the decode loop (which pushes tokens as it makes them)
// and whoever iterates the generation. Tokens are buffered, so a caller that only awaits the
// final result does not stall the loop.

export class TokenStream<T> implements AsyncIterable<T> {
  private readonly buffered: T[] = [];
  private ended = false;
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;
  private iterated = false;

  push(item: T): void {
    if (this.ended) return;
    this.buffered.push(item);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = { error };
    this.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.iterated) throw new Error("a generation's token stream can be iterated only once");
    this.iterated = true;
    for (;;) {
      if (this.buffered.length > 0) {
        yield this.buffered.shift() as T;
        continue;
      }
      if (this.ended) {
        if (this.failure !== undefined) throw this.failure.error;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
