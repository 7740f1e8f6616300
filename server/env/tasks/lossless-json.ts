// A JSON parser that loses nothing: every number keeps its source text (HumanEval+ and MBPP+ hold
// integers beyond 2^53), Python's `Infinity` / `-Infinity` / `NaN` literals are accepted (MBPP+ Mbpp/404),
// and every value remembers where it sits in the text, so the exact source of a sub-value can be handed on
// (a test case's argument list goes to the Python harness as written in the dataset).

export type JsonNode =
  | { type: "object"; entries: [string, JsonNode][]; start: number; end: number }
  | { type: "array"; items: JsonNode[]; start: number; end: number }
  | { type: "string"; value: string; start: number; end: number }
  /** `raw` is the number exactly as written (may be `Infinity`, `-Infinity`, `NaN`). */
  | { type: "number"; raw: string; start: number; end: number }
  | { type: "boolean"; value: boolean; start: number; end: number }
  | { type: "null"; start: number; end: number };

export type JsonObjectNode = Extract<JsonNode, { type: "object" }>;

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    /** 0-based offset in the parsed text. */
    readonly offset: number,
  ) {
    super(`${message} at column ${offset + 1}`);
    this.name = "JsonSyntaxError";
  }
}

/** A parsed document: the tree plus the text it came from, so `sourceOf` can slice sub-values. */
export interface LosslessDocument {
  text: string;
  root: JsonNode;
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const MAX_DEPTH = 512;

export function parseLossless(text: string): LosslessDocument {
  let pos = 0;

  const fail = (message: string, at = pos): never => {
    throw new JsonSyntaxError(message, at);
  };
  const skipWhitespace = () => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else break;
    }
  };
  const describe = (at: number) => (at >= text.length ? "end of input" : `'${text[at]}'`);

  const parseString = (): string => {
    const start = pos;
    pos++; // opening quote
    let out = "";
    let chunkStart = pos;
    while (true) {
      if (pos >= text.length) fail("unterminated string", start);
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(chunkStart, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail("control character in string");
      if (c === 0x5c) {
        out += text.slice(chunkStart, pos);
        const e = text[pos + 1];
        const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e !== undefined && e in simple) {
          out += simple[e];
          pos += 2;
        } else if (e === "u") {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 6;
        } else {
          fail("bad escape in string");
        }
        chunkStart = pos;
      } else {
        pos++;
      }
    }
  };

  const parseValue = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail("nesting too deep");
    skipWhitespace();
    const start = pos;
    const c = text[pos];
    if (c === "{") {
      pos++;
      const entries: [string, JsonNode][] = [];
      skipWhitespace();
      if (text[pos] === "}") {
        pos++;
        return { type: "object", entries, start, end: pos };
      }
      while (true) {
        skipWhitespace();
        if (text[pos] !== '"') fail(`expected a string key, found ${describe(pos)}`);
        const key = parseString();
        skipWhitespace();
        if (text[pos] !== ":") fail(`expected ':', found ${describe(pos)}`);
        pos++;
        entries.push([key, parseValue(depth + 1)]);
        skipWhitespace();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "}") {
          pos++;
          return { type: "object", entries, start, end: pos };
        }
        fail(`expected ',' or '}', found ${describe(pos)}`);
      }
    }
    if (c === "[") {
      pos++;
      const items: JsonNode[] = [];
      skipWhitespace();
      if (text[pos] === "]") {
        pos++;
        return { type: "array", items, start, end: pos };
      }
      while (true) {
        items.push(parseValue(depth + 1));
        skipWhitespace();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "]") {
          pos++;
          return { type: "array", items, start, end: pos };
        }
        fail(`expected ',' or ']', found ${describe(pos)}`);
      }
    }
    if (c === '"') {
      const value = parseString();
      return { type: "string", value, start, end: pos };
    }
    for (const [word, node] of [
      ["true", { type: "boolean", value: true }],
      ["false", { type: "boolean", value: false }],
      ["null", { type: "null" }],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return { ...node, start, end: pos } as JsonNode;
      }
    }
    // Python's json module writes these for float('inf') / float('nan'); EvalPlus data contains them.
    for (const word of ["Infinity", "-Infinity", "NaN"]) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return { type: "number", raw: word, start, end: pos };
      }
    }
    NUMBER_RE.lastIndex = pos;
    const m = NUMBER_RE.exec(text);
    if (m && m[0].length > 0) {
      pos += m[0].length;
      return { type: "number", raw: m[0], start, end: pos };
    }
    return fail(`unexpected ${describe(pos)}`);
  };

  const root = parseValue(0);
  skipWhitespace();
  if (pos < text.length) fail(`unexpected ${describe(pos)} after the value`);
  return { text, root };
}

/** The exact source text of a value inside its document. */
export function sourceOf(doc: LosslessDocument, node: JsonNode): string {
  return doc.text.slice(node.start, node.end);
}

/** Compact JSON text of a (possibly constructed) tree; numbers are written as their raw text. */
export function stringifyNode(node: JsonNode): string {
  switch (node.type) {
    case "object":
      return `{${node.entries.map(([k, v]) => `${JSON.stringify(k)}:${stringifyNode(v)}`).join(",")}}`;
    case "array":
      return `[${node.items.map(stringifyNode).join(",")}]`;
    case "string":
      return JSON.stringify(node.value);
    case "number":
      return node.raw;
    case "boolean":
      return node.value ? "true" : "false";
    case "null":
      return "null";
  }
}

/** A record whose fields are checked one by one; each failure names the field and what was expected. */
export class RecordShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecordShapeError";
  }
}

export function getField(obj: JsonObjectNode, name: string): JsonNode | undefined {
  for (const [k, v] of obj.entries) if (k === name) return v;
  return undefined;
}

function requireField(obj: JsonObjectNode, name: string): JsonNode {
  const v = getField(obj, name);
  if (v === undefined) throw new RecordShapeError(`missing field "${name}"`);
  return v;
}

export function stringField(obj: JsonObjectNode, name: string): string {
  const v = requireField(obj, name);
  if (v.type !== "string") throw new RecordShapeError(`field "${name}" must be a string, found ${v.type}`);
  return v.value;
}

export function optionalStringField(obj: JsonObjectNode, name: string): string | undefined {
  const v = getField(obj, name);
  if (v === undefined || v.type === "null") return undefined;
  if (v.type !== "string") throw new RecordShapeError(`field "${name}" must be a string, found ${v.type}`);
  return v.value;
}

export function arrayField(obj: JsonObjectNode, name: string): JsonNode[] {
  const v = requireField(obj, name);
  if (v.type !== "array") throw new RecordShapeError(`field "${name}" must be an array, found ${v.type}`);
  return v.items;
}

export function stringArrayField(obj: JsonObjectNode, name: string): string[] {
  return arrayField(obj, name).map((item, i) => {
    if (item.type !== "string") throw new RecordShapeError(`field "${name}"[${i}] must be a string, found ${item.type}`);
    return item.value;
  });
}

/** A finite number field (e.g. `atol`), returned as a JS number. */
export function numberField(obj: JsonObjectNode, name: string): number {
  const v = requireField(obj, name);
  const n = v.type === "number" ? Number(v.raw) : NaN;
  if (!Number.isFinite(n)) throw new RecordShapeError(`field "${name}" must be a finite number`);
  return n;
}

/** An integer field that must fit a JS number exactly (e.g. MBPP's task_id). */
export function safeIntegerField(obj: JsonObjectNode, name: string): number {
  const v = requireField(obj, name);
  if (v.type !== "number" || !/^-?\d+$/.test(v.raw) || !Number.isSafeInteger(Number(v.raw))) {
    throw new RecordShapeError(`field "${name}" must be an integer`);
  }
  return Number(v.raw);
}
