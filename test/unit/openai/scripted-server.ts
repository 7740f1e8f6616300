// A loopback HTTP server that answers each request with the next scripted step: a recorded
// transcript, or a fault (a dropped connection, a stall, an error status). Requests are kept so
// tests can check what the client sent and how often.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export type Step = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface ScriptedRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

export interface ScriptedServer {
  /** Base URL with /v1, as the backend takes it. */
  baseUrl: string;
  requests: ScriptedRequest[];
  close(): Promise<void>;
}

export async function startScriptedServer(steps: Step[]): Promise<ScriptedServer> {
  const requests: ScriptedRequest[] = [];
  let next = 0;
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      requests.push({ path: req.url ?? "", headers: req.headers, body: raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>) });
      const step = steps[next++];
      if (!step) {
        res.writeHead(500).end("the script has no step for this request");
        return;
      }
      Promise.resolve(step(req, res)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Transcript {
  server: string;
  follows: string;
  description: string;
  status: number;
  headers: Record<string, string>;
  body: string[];
  expected: Record<string, unknown>;
}

export function loadTranscript(name: string): Transcript {
  return JSON.parse(readFileSync(join(__dirname, "..", "..", "fixtures", "transcripts", name), "utf8")) as Transcript;
}

/** Replays a transcript, each body piece as its own write so chunk boundaries fall where recorded. */
export function replay(transcript: Transcript): Step {
  return async (_req, res) => {
    res.writeHead(transcript.status, transcript.headers);
    for (const piece of transcript.body) {
      res.write(piece);
      await sleep(2);
    }
    res.end();
  };
}

/** Sends the first `pieces` of a transcript, then drops the connection. */
export function dropAfter(transcript: Transcript, pieces: number): Step {
  return async (_req, res) => {
    res.writeHead(transcript.status, transcript.headers);
    for (const piece of transcript.body.slice(0, pieces)) {
      res.write(piece);
      await sleep(2);
    }
    res.destroy();
  };
}

/** Sends the first `pieces`, then goes silent (keeping the connection open) for `ms`. */
export function stallAfter(transcript: Transcript, pieces: number, ms: number, keepAlive = false): Step {
  return async (_req, res) => {
    res.writeHead(transcript.status, transcript.headers);
    res.flushHeaders();
    for (const piece of transcript.body.slice(0, pieces)) res.write(piece);
    const until = Date.now() + ms;
    while (Date.now() < until && !res.destroyed) {
      if (keepAlive) res.write(": keep-alive\n\n");
      await sleep(20);
    }
    res.end();
  };
}

export function status(code: number, body: unknown, headers: Record<string, string> = {}): Step {
  return (_req, res) => {
    res.writeHead(code, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
}
