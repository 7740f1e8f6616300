// Server-sent events as the WHATWG spec defines them, which is what OpenAI, vLLM and Ollama
// stream: lines end in \n, \r\n or \r; "data:" lines of one event are joined with "\n"; a blank
// line ends the event; lines starting with ":" are comments (keep-alives) and carry nothing.

export interface ServerSentEvent {
  event: string;
  data: string;
}

export async function* parseServerSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  let data: string[] = [];
  let event = "";
  let sawField = false;
  // A "\r" at the very end of a chunk may be the first half of "\r\n": wait for the next chunk.
  const takeLines = function* (final: boolean): Generator<string> {
    for (;;) {
      const match = /\r\n|\n|\r/.exec(buffer);
      if (!match) return;
      if (match[0] === "\r" && match.index === buffer.length - 1 && !final) return;
      yield buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
    }
  };
  const handle = (line: string): ServerSentEvent | undefined => {
    if (line === "") {
      const dispatched = sawField && data.length > 0 ? { event: event || "message", data: data.join("\n") } : undefined;
      data = [];
      event = "";
      sawField = false;
      return dispatched;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      data.push(value);
      sawField = true;
    } else if (field === "event") {
      event = value;
    }
    return undefined;
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (const line of takeLines(false)) {
      const dispatched = handle(line);
      if (dispatched) yield dispatched;
    }
  }
  buffer += decoder.decode();
  for (const line of takeLines(true)) {
    const dispatched = handle(line);
    if (dispatched) yield dispatched;
  }
  // A stream cut without the final blank line still delivers its last complete data lines;
  // the caller decides whether the stream as a whole was complete ([DONE], finish_reason).
  if (buffer !== "") handle(buffer);
  const last = handle("");
  if (last) yield last;
}
