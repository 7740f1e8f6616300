// The environment service: RLEF episodes over WebSocket (docs/env-protocol.md), so the trainer and
// external rollout engines play exactly the episodes the editor's agent plays. Loopback and a random
// token by default; every message is schema-checked and every problem is answered as an error message.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { availableParallelism } from "node:os";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { approximateTokenCounter } from "../env/context-budget";
import { RandomFeedbackDonor } from "../env/donor";
import { Episode, EpisodeStateError, type RunTestsFn } from "../env/episode";
import { runTests } from "../env/run";
import type { Sandbox } from "../env/sandbox/types";
import { builtInSets } from "../env/tasks/registry";
import type { Task } from "../env/types";
import {
  isInlineTask,
  parseClientMessage,
  PROTOCOL_VERSION,
  requestIdOf,
  ServiceError,
  type ClientMessage,
  type ErrorCode,
  type ErrorReply,
  type ListTasksReply,
  type RequestId,
  type ResetBody,
  type ResetReply,
  type ServiceStats,
  type StepBody,
  type StepReply,
} from "./protocol";
import { RunQueue } from "./run-queue";
import { TaskSource } from "./task-source";

export interface EnvServiceOptions {
  sandbox: Sandbox;
  /** Default 127.0.0.1. Anything else exposes code execution to the network: the token is then all that guards it. */
  host?: string;
  /** Default 0: a free port chosen by the system. */
  port?: number;
  /** Default: 32 random bytes, hex. */
  token?: string;
  /** Folder of the built-in benchmark sets, for task references. */
  benchmarksRoot?: string;
  /** Larger messages get a "message_too_large" error. Default 32 MiB. */
  maxMessageBytes?: number;
  /** Episodes open at once over all connections. Default 100,000. */
  maxEpisodes?: number;
  /** Test runs executing at once. Default 2 × the cores (the sandbox pool bounds the processes). */
  runConcurrency?: number;
  /** Test runs waiting; beyond this a step gets "overloaded". Default 100,000. */
  maxQueuedRuns?: number;
  /** Inline workspace tasks name folders on this machine; off unless the operator allows them. */
  allowWorkspaceTasks?: boolean;
  /** A connection that has not authenticated within this time is closed (4401). Default 10 s. */
  authTimeoutMs?: number;
}

export interface EnvService {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  stats(): ServiceStats;
  close(): Promise<void>;
}

interface Connection {
  ws: WebSocket;
  authenticated: boolean;
  episodes: Set<string>;
}

interface EpisodeRecord {
  id: string;
  episode: Episode;
  owner: Connection;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** ws itself drops the connection (close code 1009) above this; up to it, oversize messages get an error reply. */
const HARD_PAYLOAD_FACTOR = 4;
const DEFAULT_CHARS_PER_TOKEN = 4;

export async function startEnvService(options: EnvServiceOptions): Promise<EnvService> {
  const host = options.host ?? "127.0.0.1";
  const token = options.token ?? randomBytes(32).toString("hex");
  if (token.length < 16) throw new Error("the service token must be at least 16 characters");
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxEpisodes = options.maxEpisodes ?? 100_000;
  const queue = new RunQueue(options.runConcurrency ?? 2 * availableParallelism(), options.maxQueuedRuns ?? 100_000);
  const tasks = new TaskSource(options.benchmarksRoot ?? "../shared/benchmarks");
  const tokenDigest = digest(token);
  const sandbox = options.sandbox;

  const runFn: RunTestsFn = (task, code, which) => queue.run(() => runTests(task, code, { sandbox, which }));
  const setDonors = new Map<string, RandomFeedbackDonor>();
  const episodes = new Map<string, EpisodeRecord>();
  const connections = new Set<Connection>();
  const counters = { stepsInFlight: 0, peakStepsInFlight: 0, peakEpisodesInFlight: 0, resets: 0, steps: 0 };
  const errorCounts: Partial<Record<ErrorCode, number>> = {};

  const stats = (): ServiceStats => ({
    connections: connections.size,
    episodesInFlight: episodes.size,
    peakEpisodesInFlight: counters.peakEpisodesInFlight,
    stepsInFlight: counters.stepsInFlight,
    peakStepsInFlight: counters.peakStepsInFlight,
    runsActive: queue.active,
    runsQueued: queue.queued,
    peakRunsQueued: queue.peakQueued,
    resets: counters.resets,
    steps: counters.steps,
    errors: { ...errorCounts },
  });

  function errorReply(err: unknown, requestId: RequestId | null): ErrorReply {
    let code: ErrorCode;
    let message: string;
    if (err instanceof ServiceError) {
      code = err.code;
      message = err.message;
    } else if (err instanceof EpisodeStateError) {
      code = /already running/.test(err.message) ? "episode_busy" : "episode_finished";
      message = err.message;
    } else {
      code = "internal";
      message = `internal error: ${err instanceof Error ? err.message : String(err)}`;
    }
    errorCounts[code] = (errorCounts[code] ?? 0) + 1;
    return { type: "error", code, message, requestId };
  }

  function send(conn: Connection, reply: object): void {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(reply));
  }

  function forget(record: EpisodeRecord): void {
    episodes.delete(record.id);
    record.owner.episodes.delete(record.id);
  }

  async function reset(conn: Connection, body: ResetBody, requestId: RequestId | null): Promise<ResetReply> {
    if (episodes.size >= maxEpisodes) throw new ServiceError("too_many_episodes", `the service already holds ${maxEpisodes} open episodes`);
    const opts = body.options ?? {};
    let task: Task;
    let donor: RandomFeedbackDonor | undefined;
    if (isInlineTask(body.task)) {
      task = body.task;
      if (task.kind === "workspace" && !options.allowWorkspaceTasks) {
        throw new ServiceError("workspace_tasks_disabled", "this service does not accept workspace tasks (start it with workspace tasks allowed)");
      }
      if (opts.randomFeedback) {
        if (!opts.donorTasks) throw new ServiceError("invalid_message", "randomFeedback with an inline task needs options.donorTasks (other tasks of its set)");
        donor = new RandomFeedbackDonor([task, ...opts.donorTasks], runFn);
      }
    } else {
      if (opts.donorTasks) throw new ServiceError("invalid_message", "options.donorTasks is only for inline tasks; a set reference uses the set's tasks");
      const resolved = await tasks.resolve(body.task);
      task = resolved.task;
      if (opts.randomFeedback) {
        donor = setDonors.get(task.set) ?? new RandomFeedbackDonor(resolved.setTasks, runFn);
        setDonors.set(task.set, donor);
      }
    }
    let episode: Episode;
    try {
      episode = new Episode(task, {
        runTests: runFn,
        maxTurns: opts.maxTurns,
        seed: opts.seed,
        randomFeedback: donor,
        targetSource: opts.targetSource,
        contextBudget:
          opts.contextLength === undefined
            ? undefined
            : { contextLength: opts.contextLength, countTokens: approximateTokenCounter(opts.tokenizer?.charsPerToken ?? DEFAULT_CHARS_PER_TOKEN) },
      });
    } catch (err) {
      throw new ServiceError("invalid_task", (err as Error).message);
    }
    // The episode may have been waiting on a set load; the connection could be gone by now.
    if (conn.ws.readyState !== WebSocket.OPEN) throw new ServiceError("internal", "the connection closed during reset");
    const messages = episode.reset();
    const id = randomUUID();
    episodes.set(id, { id, episode, owner: conn });
    conn.episodes.add(id);
    counters.resets++;
    counters.peakEpisodesInFlight = Math.max(counters.peakEpisodesInFlight, episodes.size);
    return { type: "reset", requestId, episodeId: id, taskId: task.id, maxTurns: episode.maxTurns, observation: { messages } };
  }

  async function step(conn: Connection, body: StepBody, requestId: RequestId | null): Promise<StepReply> {
    const record = episodes.get(body.episodeId);
    if (!record || record.owner !== conn) {
      throw new ServiceError("unknown_episode", `no open episode ${JSON.stringify(body.episodeId).slice(0, 100)} on this connection (finished episodes are forgotten)`);
    }
    counters.stepsInFlight++;
    counters.peakStepsInFlight = Math.max(counters.peakStepsInFlight, counters.stepsInFlight);
    try {
      let r;
      try {
        r = await record.episode.step(body.response);
      } catch (err) {
        if (err instanceof ServiceError || err instanceof EpisodeStateError) throw err;
        // The episode is unchanged (Episode commits a turn only when it completes): the client may retry.
        throw new ServiceError("run_failed", `running the tests failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      counters.steps++;
      if (r.done) forget(record);
      return { type: "step", requestId, episodeId: record.id, ...r };
    } finally {
      counters.stepsInFlight--;
    }
  }

  async function settle<T>(work: Promise<T>, requestId: RequestId | null): Promise<T | ErrorReply> {
    try {
      return await work;
    } catch (err) {
      return errorReply(err, requestId);
    }
  }

  async function dispatch(conn: Connection, msg: ClientMessage): Promise<object> {
    const requestId = msg.requestId ?? null;
    switch (msg.type) {
      case "hello":
        if (msg.protocolVersion !== PROTOCOL_VERSION) {
          throw new ServiceError("unsupported_protocol_version", `this service speaks protocol version ${PROTOCOL_VERSION}, not ${msg.protocolVersion}`);
        }
        return {
          type: "hello",
          requestId,
          protocolVersion: PROTOCOL_VERSION,
          server: "rlef-env",
          capabilities: {
            batch: true,
            maxBatchItems: 4096,
            randomFeedback: true,
            contextBudget: true,
            tokenizers: ["chars-per-token"],
            inlineTaskKinds: options.allowWorkspaceTasks ? ["stdio", "function", "workspace"] : ["stdio", "function"],
            sets: builtInSets.map((s) => s.name),
            listTasks: true,
          },
          limits: { maxMessageBytes, maxEpisodes, maxQueuedRuns: queue.maxQueued, runConcurrency: queue.concurrency },
          isolation: sandbox.isolation,
        };
      case "reset":
        return reset(conn, msg, requestId);
      case "step":
        return step(conn, msg, requestId);
      case "resetBatch":
        return { type: "resetBatch", requestId, items: await Promise.all(msg.items.map((item) => settle(reset(conn, item, null), null))) };
      case "stepBatch":
        return { type: "stepBatch", requestId, items: await Promise.all(msg.items.map((item) => settle(step(conn, item, null), null))) };
      case "close": {
        const record = episodes.get(msg.episodeId);
        if (!record || record.owner !== conn) throw new ServiceError("unknown_episode", `no open episode ${JSON.stringify(msg.episodeId).slice(0, 100)} on this connection`);
        forget(record);
        return { type: "close", requestId, episodeId: msg.episodeId };
      }
      case "stats":
        return { type: "stats", requestId, ...stats() };
      case "listTasks":
        return { type: "listTasks", requestId, set: msg.set, ...(await tasks.list(msg.set)) } satisfies ListTasksReply;
    }
  }

  function onMessage(conn: Connection, data: RawData): void {
    const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (buffer.length > maxMessageBytes) {
      send(conn, errorReply(new ServiceError("message_too_large", `the message has ${buffer.length} bytes; the limit is ${maxMessageBytes}`), null));
      if (!conn.authenticated) conn.ws.close(4401, "unauthorized");
      return;
    }
    const text = buffer.toString("utf8");
    let msg: ClientMessage;
    try {
      msg = parseClientMessage(text);
    } catch (err) {
      send(conn, errorReply(err, requestIdOfText(text)));
      if (!conn.authenticated) conn.ws.close(4401, "unauthorized");
      return;
    }
    // Authentication is decided synchronously, in arrival order, before anything else runs.
    if (!conn.authenticated) {
      if (msg.type === "hello" && msg.token !== undefined && tokenMatches(msg.token, tokenDigest)) {
        conn.authenticated = true;
      } else {
        send(conn, errorReply(new ServiceError("unauthorized", "the first message must be a hello with the service's token (or send an Authorization: Bearer header)"), msg.requestId ?? null));
        conn.ws.close(4401, "unauthorized");
        return;
      }
    }
    dispatch(conn, msg).then(
      (reply) => send(conn, reply),
      (err: unknown) => send(conn, errorReply(err, msg.requestId ?? null)),
    );
  }

  const wss = new WebSocketServer({ host, port: options.port ?? 0, maxPayload: maxMessageBytes * HARD_PAYLOAD_FACTOR });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  wss.on("connection", (ws: WebSocket, req: IncomingMessage) => {
    const conn: Connection = { ws, authenticated: bearerMatches(req.headers.authorization, tokenDigest), episodes: new Set() };
    connections.add(conn);
    if (!conn.authenticated) {
      const timer = setTimeout(() => {
        if (!conn.authenticated) ws.close(4401, "no hello with the token in time");
      }, options.authTimeoutMs ?? 10_000);
      timer.unref();
      ws.once("close", () => clearTimeout(timer));
    }
    ws.on("message", (data) => onMessage(conn, data));
    ws.on("error", () => ws.terminate());
    ws.on("close", () => {
      connections.delete(conn);
      // A client that goes away abandons its episodes; runs already started finish, their replies are dropped.
      for (const id of conn.episodes) episodes.delete(id);
      conn.episodes.clear();
    });
  });
  const address = wss.address();
  if (typeof address === "string" || address === null) throw new Error("the WebSocket server has no TCP address");
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `ws://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    token,
    stats,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const c of connections) c.ws.terminate();
        wss.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

function tokenMatches(candidate: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(candidate), expected);
}

function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m !== null && tokenMatches(m[1], expected);
}

/** Best effort: the requestId of a message that failed validation, when it parsed as JSON at all. */
function requestIdOfText(text: string): RequestId | null {
  try {
    return requestIdOf(JSON.parse(text));
  } catch {
    return null;
  }
}
