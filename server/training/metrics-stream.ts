// A client for the trainer's live metrics stream (trainer/rlef_trainer/progress.py, MetricsStream), protocol 1:
// the server sends `hello` {protocol, outDir, iterations}, then `history` {metrics, evaluations}, then
// `iteration` {metrics} and `evaluation` {evaluation} as they happen, and `done` when the run ends. The
// stream is read-only: this client never sends. Every message is validated; a malformed one is reported
// and skipped, a stream that does not start with a `hello` of protocol 1 is reported and closed.
import { WebSocket, type RawData } from "ws";
import {
  describeSchemaErrors,
  lazyValidator,
  parseEvaluationRecord,
  parseIterationMetrics,
  type EvaluationRecord,
  type IterationMetrics,
} from "./records";

export const STREAM_PROTOCOL = 1;

export type StreamMessage =
  | { type: "hello"; protocol: number; outDir: string; iterations: number }
  | { type: "history"; metrics: IterationMetrics[]; evaluations: EvaluationRecord[] }
  | { type: "iteration"; metrics: IterationMetrics }
  | { type: "evaluation"; evaluation: EvaluationRecord }
  | { type: "done" };

/** A problem with the stream: unreachable, not a metrics stream, another protocol, or a malformed message. */
export class MetricsStreamError extends Error {
  override name = "MetricsStreamError";
}

// Only the envelope is checked here; the records inside go through records.ts's parsers.
const SCHEMAS = {
  hello: {
    type: "object",
    required: ["type", "protocol", "outDir", "iterations"],
    properties: { type: { const: "hello" }, protocol: { type: "integer" }, outDir: { type: "string" }, iterations: { type: "integer", minimum: 0 } },
  },
  history: {
    type: "object",
    required: ["type", "metrics", "evaluations"],
    properties: { type: { const: "history" }, metrics: { type: "array" }, evaluations: { type: "array" } },
  },
  iteration: { type: "object", required: ["type", "metrics"], properties: { type: { const: "iteration" }, metrics: {} } },
  evaluation: { type: "object", required: ["type", "evaluation"], properties: { type: { const: "evaluation" }, evaluation: {} } },
  done: { type: "object", required: ["type"], properties: { type: { const: "done" } } },
} as const;
type MessageType = keyof typeof SCHEMAS;
const validators = Object.fromEntries(Object.entries(SCHEMAS).map(([type, schema]) => [type, lazyValidator(schema)]));

/** Parses and validates one text frame of the stream; throws MetricsStreamError saying what is wrong. */
export function parseStreamMessage(text: string): StreamMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MetricsStreamError(`a message is not valid JSON (${(err as Error).message}): ${preview(text)}`);
  }
  const type = typeof value === "object" && value !== null && !Array.isArray(value) ? (value as { type?: unknown }).type : undefined;
  if (typeof type !== "string") throw new MetricsStreamError(`a message is not a JSON object with a string "type": ${preview(text)}`);
  if (!Object.hasOwn(SCHEMAS, type)) {
    throw new MetricsStreamError(`unknown message type ${JSON.stringify(type).slice(0, 80)}; known: ${Object.keys(SCHEMAS).join(", ")}`);
  }
  const checked = validators[type](value);
  if (!checked.ok) throw new MetricsStreamError(`invalid "${type}" message: ${describeSchemaErrors("message", checked.errors)}`);
  const message = value as Record<string, unknown>;
  try {
    switch (type as MessageType) {
      case "hello":
        return { type: "hello", protocol: message.protocol as number, outDir: message.outDir as string, iterations: message.iterations as number };
      case "history":
        return {
          type: "history",
          metrics: (message.metrics as unknown[]).map((m, i) => parseIterationMetrics(m, `message.metrics[${i}]`)),
          evaluations: (message.evaluations as unknown[]).map((e, i) => parseEvaluationRecord(e, `message.evaluations[${i}]`)),
        };
      case "iteration":
        return { type: "iteration", metrics: parseIterationMetrics(message.metrics, "message.metrics") };
      case "evaluation":
        return { type: "evaluation", evaluation: parseEvaluationRecord(message.evaluation, "message.evaluation") };
      case "done":
        return { type: "done" };
    }
  } catch (err) {
    throw new MetricsStreamError(`invalid "${type}" message: ${(err as Error).message}`);
  }
}

const LOOPBACK_HOSTS = new Set(["localhost", "[::1]"]);

/**
 * The stream address a user typed, as a ws:// URL: "ws://127.0.0.1:PORT", "127.0.0.1:PORT" or just "PORT".
 * Only loopback addresses: the trainer serves its metrics on 127.0.0.1 and nowhere else.
 */
export function parseStreamAddress(input: string): { url: string } | { error: string } {
  const text = input.trim();
  if (!text) return { error: 'Enter the address the trainer logged ("metrics stream: ws://127.0.0.1:PORT").' };
  const withScheme = /^\d+$/.test(text) ? `ws://127.0.0.1:${text}` : /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `ws://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { error: `"${text}" is not an address; expected ws://127.0.0.1:PORT.` };
  }
  if (url.protocol !== "ws:") return { error: `The metrics stream is a plain WebSocket (ws://127.0.0.1:PORT), not ${url.protocol}//.` };
  const host = url.hostname.toLowerCase();
  if (!LOOPBACK_HOSTS.has(host) && !/^127(\.\d{1,3}){3}$/.test(host)) {
    return {
      error:
        `${url.hostname} is not this machine: only loopback addresses (127.0.0.1, localhost, [::1]) are accepted, as the trainer ` +
        "serves its metrics on 127.0.0.1 only. For a trainer on another machine, forward its port (ssh -L PORT:127.0.0.1:PORT host).",
    };
  }
  if (!url.port) return { error: "Add the port the trainer logged: ws://127.0.0.1:PORT." };
  return { url: `ws://${url.host}${url.pathname === "/" ? "" : url.pathname}` };
}

export interface MetricsStreamListener {
  /** A validated message, in the order the trainer sent them. */
  message(message: StreamMessage): void;
  /** Something went wrong. After a malformed message the stream goes on; after any other problem it closes. */
  problem(error: MetricsStreamError): void;
  /** Called once, last: `done` says whether the run's end was received before the connection closed. */
  closed(info: { done: boolean; reason: string }): void;
}

export interface MetricsStreamConnection {
  close(): void;
}

/** Connects to the stream at `url` (check it with parseStreamAddress first) and reports to `listener`. */
export function openMetricsStream(url: string, listener: MetricsStreamListener, options: { connectTimeoutMs?: number } = {}): MetricsStreamConnection {
  let greeted = false;
  let done = false;
  let ended = false;
  let fatal: string | null = null;
  let closedByUs = false;
  const ws = new WebSocket(url, { handshakeTimeout: options.connectTimeoutMs ?? 10_000, perMessageDeflate: false });

  const fail = (message: string) => {
    fatal = message;
    listener.problem(new MetricsStreamError(message));
    ws.terminate();
  };

  ws.on("message", (data: RawData, isBinary: boolean) => {
    if (ended || fatal !== null) return;
    let message: StreamMessage;
    try {
      if (isBinary) throw new MetricsStreamError("a message is binary; the metrics stream sends JSON text");
      message = parseStreamMessage(rawText(data));
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      if (!greeted) fail(`${url} is not an RLEF metrics stream: ${text}`);
      else listener.problem(new MetricsStreamError(text));
      return;
    }
    if (!greeted) {
      if (message.type !== "hello") return fail(`${url} is not an RLEF metrics stream: its first message is "${message.type}", not "hello"`);
      if (message.protocol !== STREAM_PROTOCOL) {
        return fail(`the trainer at ${url} speaks metrics-stream protocol ${message.protocol}; this extension reads protocol ${STREAM_PROTOCOL}. Use matching versions of the extension and the trainer.`);
      }
      greeted = true;
    } else if (message.type === "hello") {
      return listener.problem(new MetricsStreamError('a second "hello" message was ignored'));
    }
    if (message.type === "done") done = true;
    listener.message(message);
  });
  ws.on("error", (err: Error) => {
    if (ended || fatal !== null || closedByUs) return;
    fatal = greeted ? `the connection to ${url} failed: ${err.message}` : `could not connect to ${url}: ${err.message} (is the trainer running with metrics_port set?)`;
    listener.problem(new MetricsStreamError(fatal));
  });
  ws.on("close", (code: number) => {
    if (ended) return;
    ended = true;
    const reason = closedByUs
      ? "closed"
      : fatal !== null
        ? fatal
        : done
          ? "the run ended"
          : `the trainer closed the connection before the run ended (code ${code}): it stopped or was killed`;
    listener.closed({ done, reason });
  });

  return {
    close() {
      if (ended) return;
      closedByUs = true;
      ws.close();
      // A connection still opening, or a peer that does not answer the close, must not keep this alive.
      setTimeout(() => ws.terminate(), 1_000).unref();
    },
  };
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(data).toString("utf8");
}

function preview(text: string): string {
  return text.length > 80 ? `${JSON.stringify(text.slice(0, 80))}...` : JSON.stringify(text);
}
