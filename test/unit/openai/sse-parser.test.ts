import { test } from "node:test";
import assert from "node:assert/strict";
import { parseServerSentEvents, type ServerSentEvent } from "../../../server/policy/openai/sse-parser";

async function parse(pieces: string[]): Promise<ServerSentEvent[]> {
  async function* body() {
    for (const p of pieces) yield new TextEncoder().encode(p);
  }
  const events: ServerSentEvent[] = [];
  for await (const e of parseServerSentEvents(body())) events.push(e);
  return events;
}

test("data lines of one event are joined with LF; a blank line ends the event", async () => {
  assert.deepEqual(await parse(["data: a\ndata: b\n\ndata: c\n\n"]), [
    { event: "message", data: "a\nb" },
    { event: "message", data: "c" },
  ]);
});

test("comments (keep-alives) and unknown fields carry nothing", async () => {
  assert.deepEqual(await parse([": keep-alive\n\n", "retry: 100\nid: 3\n\n", ":x\ndata: y\n\n"]), [{ event: "message", data: "y" }]);
});

test("CRLF, lone CR and a CR LF pair split across reads all end lines once", async () => {
  assert.deepEqual(await parse(["data: a\r", "\n\r", "\ndata: b\r\rdata: c\r\n\r\n"]), [
    { event: "message", data: "a" },
    { event: "message", data: "b" },
    { event: "message", data: "c" },
  ]);
});

test("events split anywhere, even inside a UTF-8 character, come out whole", async () => {
  const bytes = new TextEncoder().encode('data: {"t":"héllo ✓"}\n\n');
  async function* body() {
    for (const b of bytes) yield Uint8Array.of(b);
  }
  const events: ServerSentEvent[] = [];
  for await (const e of parseServerSentEvents(body())) events.push(e);
  assert.deepEqual(events, [{ event: "message", data: '{"t":"héllo ✓"}' }]);
});

test("only one leading space after the colon is dropped; 'data' without colon is an empty line of data", async () => {
  assert.deepEqual(await parse(["data:  two\n\n", "data:none\n\n", "data\ndata: x\n\n"]), [
    { event: "message", data: " two" },
    { event: "message", data: "none" },
    { event: "message", data: "\nx" },
  ]);
});

test("the event field names the event; a stream cut before its blank line still yields its last data", async () => {
  assert.deepEqual(await parse(["event: error\ndata: {}\n\n", "data: tail"]), [
    { event: "error", data: "{}" },
    { event: "message", data: "tail" },
  ]);
});
