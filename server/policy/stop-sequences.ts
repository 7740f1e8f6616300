// Finds stop sequences in streamed text. Text that could be the start of a stop sequence is
// held back until the next piece shows whether it is one, so a stop sequence never leaks
// into the stream, even when it is split across tokens.

export interface StopScan {
  /** Text now known not to be (part of) a stop sequence. */
  emit: string;
  /** A stop sequence was found; `emit` ends right before it and later text is ignored. */
  stopped: boolean;
}

export class StopSequenceMatcher {
  private held = "";
  private done = false;

  constructor(private readonly stops: readonly string[]) {
    for (const stop of stops) {
      if (typeof stop !== "string" || stop.length === 0) {
        throw new Error(`stop sequences must be non-empty strings, got ${JSON.stringify(stop)}`);
      }
    }
  }

  push(text: string): StopScan {
    if (this.done) return { emit: "", stopped: true };
    const buffer = this.held + text;
    let firstStop = -1;
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop);
      if (at >= 0 && (firstStop < 0 || at < firstStop)) firstStop = at;
    }
    if (firstStop >= 0) {
      this.done = true;
      this.held = "";
      return { emit: buffer.slice(0, firstStop), stopped: true };
    }
    const keep = this.longestPendingPrefix(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { emit: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** The held-back text once the stream has ended without a stop. */
  flush(): string {
    const rest = this.done ? "" : this.held;
    this.held = "";
    return rest;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop sequence. */
  private longestPendingPrefix(buffer: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > longest; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
