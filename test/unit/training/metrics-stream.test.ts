// The metrics-stream client against a real local WebSocket server that plays the trainer's side of
// protocol 1 (trainer/rlef_trainer/progress.py), including servers that misbehave or go away.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { openMetricsStream, parseStreamAddress, parseStreamMessage, type StreamMessage } from "../../../server/training/metrics-stream";
import { followMetricsStream, type RunSnapshot } from "../../../server/training/run-snapshot";

const HELLO = { type: "hello", protocol: 1, outDir: "/runs/tiny", iterations: 3 };
const metrics = (iteration: number, extra: Record<string, number | null> = {}) => ({
  iteration,
  solve_rate: 0.25 * iteration,
  first_turn_solve_rate: 0.1,
  kl_per_turn: 0.01,
  explained_variance: null, // NaN travels as null
  ...extra,
});
const evaluation = (iteration: number) => ({
  iteration,
  valid: { problems: 2, draws: 1, mt_1at3: 0.5, mt_1at3_low: 0, mt_1at3_high: 1, st_1at3: 0, st_1at3_low: 0, st_1at3_high: 0 },
  seconds: 1.5,
});

/** A stream server on loopback; `play` runs for each connection. */
async function streamServer(play: (socket: WebSocket) => void | Promise<void>) {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (socket) => void play(socket));
  await once(server, "listening");
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, server, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function send(socket: WebSocket, message: unknown): void {
  socket.send(typeof message === "string" ? message : JSON.stringify(message));
}

/** Everything the client reports, until it says the stream closed. */
function listen(url: string) {
  const messages: StreamMessage[] = [];
  const problems: string[] = [];
  let connection!: ReturnType<typeof openMetricsStream>;
  const closed = new Promise<{ done: boolean; reason: string }>((resolve) => {
    connection = openMetricsStream(url, { message: (m) => messages.push(m), problem: (e) => problems.push(e.message), closed: resolve });
  });
  return { messages, problems, closed, connection };
}

test("a run's hello, history, live iterations and evaluations, then done, arrive validated and in order", async () => {
  const s = await streamServer((socket) => {
    send(socket, HELLO);
    send(socket, { type: "history", metrics: [metrics(1)], evaluations: [evaluation(0)] });
    send(socket, { type: "iteration", metrics: metrics(2) });
    send(socket, { type: "evaluation", evaluation: evaluation(2) });
    send(socket, { type: "done" });
    socket.close();
  });
  const c = listen(s.url);
  const end = await c.closed;
  assert.deepEqual(end, { done: true, reason: "the run ended" });
  assert.deepEqual(c.problems, []);
  assert.deepEqual(
    c.messages.map((m) => m.type),
    ["hello", "history", "iteration", "evaluation", "done"],
  );
  assert.deepEqual(c.messages[0], HELLO);
  const history = c.messages[1] as Extract<StreamMessage, { type: "history" }>;
  assert.equal(history.metrics[0].explained_variance, null);
  assert.deepEqual(history.evaluations[0], { iteration: 0, seconds: 1.5, splits: { valid: evaluation(0).valid } });
  assert.equal((c.messages[2] as Extract<StreamMessage, { type: "iteration" }>).metrics.solve_rate, 0.5);
  await s.close();
});

test("a malformed message is reported with what is wrong and skipped; the stream goes on", async () => {
  const s = await streamServer((socket) => {
    send(socket, HELLO);
    send(socket, "{not json");
    send(socket, { type: "iteration", metrics: { iteration: 1, solve_rate: "high" } });
    send(socket, { type: "iteration", metrics: { solve_rate: 0.5 } });
    send(socket, { type: "evaluation", evaluation: { iteration: 1, valid: { mt_1at3: "x" } } });
    send(socket, { type: "sparkle" });
    send(socket, [1, 2]);
    send(socket, HELLO);
    send(socket, { type: "iteration", metrics: metrics(1) });
    send(socket, { type: "done" });
    socket.close();
  });
  const c = listen(s.url);
  assert.equal((await c.closed).done, true);
  assert.deepEqual(
    c.messages.map((m) => m.type),
    ["hello", "iteration", "done"],
  );
  assert.equal(c.problems.length, 7);
  assert.match(c.problems[0], /not valid JSON/);
  assert.match(c.problems[1], /invalid "iteration" message: message\.metrics\.solve_rate must be number,null/);
  assert.match(c.problems[2], /message\.metrics must have required property 'iteration'/);
  assert.match(c.problems[3], /invalid "evaluation" message: message\.evaluation\.valid\.mt_1at3 must be number,null/);
  assert.match(c.problems[4], /unknown message type "sparkle"; known: hello, history, iteration, evaluation, done/);
  assert.match(c.problems[5], /not a JSON object with a string "type"/);
  assert.match(c.problems[6], /second "hello"/);
  await s.close();
});

test("a stream of another protocol version is refused with both versions named, and closed", async () => {
  const s = await streamServer((socket) => {
    send(socket, { ...HELLO, protocol: 2 });
    send(socket, { type: "history", metrics: [], evaluations: [] });
  });
  const c = listen(s.url);
  const end = await c.closed;
  assert.equal(end.done, false);
  assert.deepEqual(c.messages, []);
  assert.equal(c.problems.length, 1);
  assert.match(c.problems[0], /speaks metrics-stream protocol 2; this extension reads protocol 1/);
  assert.equal(end.reason, c.problems[0]);
  await s.close();
});

test("a server that is not a metrics stream (its first message is not a hello) is refused and closed", async () => {
  for (const first of [{ type: "done" }, { type: "ready", protocolVersion: 1 }, "hello"]) {
    const s = await streamServer((socket) => send(socket, first));
    const c = listen(s.url);
    assert.equal((await c.closed).done, false);
    assert.deepEqual(c.messages, []);
    assert.equal(c.problems.length, 1, JSON.stringify(first));
    assert.match(c.problems[0], /is not an RLEF metrics stream/);
    await s.close();
  }
});

test("a trainer that goes away before the run ends is reported as a lost connection", async () => {
  const s = await streamServer((socket) => {
    send(socket, HELLO);
    send(socket, { type: "history", metrics: [metrics(1)], evaluations: [] });
    setTimeout(() => socket.terminate(), 50); // killed: no close handshake, no "done"
  });
  const c = listen(s.url);
  const end = await c.closed;
  assert.equal(end.done, false);
  assert.match(end.reason, /closed the connection before the run ended/);
  assert.deepEqual(
    c.messages.map((m) => m.type),
    ["hello", "history"],
  );
  await s.close();
});

test("nothing listening at the address: a connection error that says what to check", async () => {
  const s = await streamServer(() => {});
  const url = s.url;
  await s.close();
  const c = listen(url);
  const end = await c.closed;
  assert.equal(end.done, false);
  assert.equal(c.problems.length, 1);
  assert.match(c.problems[0], new RegExp(`could not connect to ${url}: .*ECONNREFUSED.*metrics_port`));
});

test("close() ends the connection quietly: no problem is reported", async () => {
  const s = await streamServer((socket) => send(socket, HELLO));
  const c = listen(s.url);
  while (c.messages.length === 0) await new Promise((r) => setTimeout(r, 10));
  c.connection.close();
  assert.deepEqual(await c.closed, { done: false, reason: "closed" });
  assert.deepEqual(c.problems, []);
  await s.close();
});

test("followMetricsStream: connecting, connected with the history, live records added, then done", async () => {
  const s = await streamServer((socket) => {
    send(socket, HELLO);
    send(socket, { type: "history", metrics: [metrics(1)], evaluations: [evaluation(0)] });
    send(socket, { type: "iteration", metrics: metrics(2) });
    send(socket, { type: "iteration", metrics: metrics(2, { solve_rate: 0.9 }) }); // the same iteration again replaces it
    send(socket, { type: "evaluation", evaluation: evaluation(2) });
    send(socket, { type: "done" });
    socket.close();
  });
  const snapshots: RunSnapshot[] = [];
  const follower = followMetricsStream(s.url, (snapshot) => snapshots.push(snapshot));
  while (snapshots.at(-1)?.status !== "done") await new Promise((r) => setTimeout(r, 10));
  follower.close();
  assert.equal(snapshots[0].status, "connecting");
  assert.equal(snapshots[1].status, "connected");
  assert.equal(snapshots[1].iterations, 3);
  assert.equal(snapshots[1].outDir, "/runs/tiny");
  const last = snapshots.at(-1)!;
  assert.deepEqual(
    last.metrics.map((m) => [m.iteration, m.solve_rate]),
    [
      [1, 0.25],
      [2, 0.9],
    ],
  );
  assert.deepEqual(
    last.evaluations.map((e) => e.iteration),
    [0, 2],
  );
  assert.equal(last.problem, null);
  assert.equal(snapshots[2].metrics.length, 1, "earlier snapshots are not changed by later messages");
  await s.close();
});

test("followMetricsStream: a lost trainer leaves the data and says disconnected, with the reason", async () => {
  const s = await streamServer((socket) => {
    send(socket, HELLO);
    send(socket, { type: "history", metrics: [metrics(1)], evaluations: [] });
    setTimeout(() => socket.terminate(), 50);
  });
  const snapshots: RunSnapshot[] = [];
  followMetricsStream(s.url, (snapshot) => snapshots.push(snapshot));
  while (snapshots.at(-1)?.status !== "disconnected") await new Promise((r) => setTimeout(r, 10));
  const last = snapshots.at(-1)!;
  assert.equal(last.metrics.length, 1);
  assert.match(last.problem ?? "", /before the run ended/);
  await s.close();
});

test("stream addresses: loopback only, with a message that says why and what to do instead", () => {
  const ok = (text: string) => {
    const r = parseStreamAddress(text);
    assert.ok("url" in r, `${text}: ${"error" in r ? r.error : ""}`);
    return r.url;
  };
  assert.equal(ok("ws://127.0.0.1:8765"), "ws://127.0.0.1:8765");
  assert.equal(ok("  127.0.0.1:8765 "), "ws://127.0.0.1:8765");
  assert.equal(ok("8765"), "ws://127.0.0.1:8765");
  assert.equal(ok("ws://localhost:9000"), "ws://localhost:9000");
  assert.equal(ok("ws://[::1]:9000"), "ws://[::1]:9000");
  assert.equal(ok("ws://127.1.2.3:9000"), "ws://127.1.2.3:9000");
  const error = (text: string) => {
    const r = parseStreamAddress(text);
    assert.ok("error" in r, `${text} is refused`);
    return r.error;
  };
  assert.match(error("ws://192.168.1.20:8765"), /192\.168\.1\.20 is not this machine: only loopback addresses .*ssh -L/);
  assert.match(error("ws://example.com:8765"), /not this machine/);
  assert.match(error("ws://127.0.0.1.evil.com:8765"), /not this machine/);
  assert.match(error("ws://0.0.0.0:8765"), /not this machine/);
  assert.match(error("http://127.0.0.1:8765"), /plain WebSocket/);
  assert.match(error("wss://127.0.0.1:8765"), /plain WebSocket/);
  assert.match(error("ws://127.0.0.1"), /Add the port/);
  assert.match(error("ws://127.0.0.1:"), /Add the port/);
  assert.match(error(""), /address the trainer logged/);
  assert.match(error("ws://[nonsense"), /not an address/);
});

test("parseStreamMessage keeps an evaluation's splits apart from its iteration and seconds", () => {
  const m = parseStreamMessage(JSON.stringify({ type: "evaluation", evaluation: { iteration: 4, humaneval_plus: { problems: 3, mt_1at3: 0.3 }, valid: { problems: 2, mt_1at3: null } } }));
  assert.deepEqual(m, { type: "evaluation", evaluation: { iteration: 4, seconds: null, splits: { humaneval_plus: { problems: 3, mt_1at3: 0.3 }, valid: { problems: 2, mt_1at3: null } } } });
});
