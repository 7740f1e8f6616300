// A minimal protocol client for the service tests: sends JSON, matches replies by requestId, keeps every
// reply so tests can also check the ones without a requestId.
import { WebSocket } from "ws";

export type Reply = Record<string, unknown> & { type: string; requestId?: string | number | null };

export class TestClient {
  readonly replies: Reply[] = [];
  private readonly waiting = new Map<string | number, (r: Reply) => void>();
  private nextId = 0;
  closeCode: number | null = null;
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const reply = JSON.parse(String(data)) as Reply;
      this.replies.push(reply);
      const id = reply.requestId;
      if (id !== null && id !== undefined && this.waiting.has(id)) {
        this.waiting.get(id)!(reply);
        this.waiting.delete(id);
      }
    });
    this.closed = new Promise((resolve) => ws.on("close", (code) => resolve((this.closeCode = code))));
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    const ws = new WebSocket(url, { headers });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new TestClient(ws);
  }

  /** Sends a message with a fresh requestId (unless it has one) and waits for the reply carrying it. */
  request(message: Record<string, unknown>): Promise<Reply> {
    const requestId = (message.requestId as string | number | undefined) ?? `r${this.nextId++}`;
    const reply = new Promise<Reply>((resolve) => this.waiting.set(requestId, resolve));
    this.ws.send(JSON.stringify({ ...message, requestId }));
    return reply;
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** Waits until `count` replies without a matching request have arrived (e.g. answers to unparseable text). */
  async waitForReplies(pred: (r: Reply) => boolean, count: number, timeoutMs = 60_000): Promise<Reply[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.replies.filter(pred);
      if (found.length >= count) return found;
      if (Date.now() > deadline) throw new Error(`only ${found.length} of ${count} expected replies arrived`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.ws.close();
  }
}
