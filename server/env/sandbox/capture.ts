// Keeps the first `capBytes` of a stream and drains the rest, so a chatty program never blocks on a full
// pipe (which would turn "too much output" into a spurious timeout) and never fills our memory.
import type { Readable } from "node:stream";

export class CappedCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  truncated = false;
  readonly done: Promise<void>;

  constructor(
    stream: Readable,
    private readonly capBytes: number,
  ) {
    this.done = new Promise((resolve) => {
      stream.on("data", (chunk: Buffer) => this.take(chunk));
      // A destroyed or errored pipe still ends the capture: what arrived so far is the output.
      stream.on("close", () => resolve());
      stream.on("error", () => resolve());
    });
  }

  private take(chunk: Buffer): void {
    const room = this.capBytes - this.kept;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    if (chunk.length > room) {
      this.chunks.push(chunk.subarray(0, room));
      this.kept += room;
      this.truncated = true;
      return;
    }
    this.chunks.push(chunk);
    this.kept += chunk.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }
}
