// Parses one Python literal (what `ast.literal_eval` accepts, minus complex numbers and bytes) into the
// harness's tagged JSON tree: tuples become {"$tuple": [...]}, sets {"$set": [...]}, dicts {"$dict": [[k, v]]}.
// Needed for datasets that stored arguments with Python's str() (MapCoder's APPS conversion writes
// `['a', 'b']`, `True`, `(1, 2)`), which JSON cannot read. Integers keep their source digits (no 2^53 loss).
import type { JsonNode } from "./lossless-json";

export class PythonLiteralError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at column ${offset + 1}`);
    this.name = "PythonLiteralError";
  }
}

const span = { start: 0, end: 0 };
const MAX_DEPTH = 256;
const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v", "0": "\0", "\n": "",
};

function tagged(tag: string, items: JsonNode[]): JsonNode {
  return { type: "object", entries: [[tag, { type: "array", items, ...span }]], ...span };
}

/** A Python int or float literal as JSON number text (`1.` → `1.0`, `.5` → `0.5`, `1_000` → `1000`). */
function numberRaw(text: string, negative: boolean): string {
  let t = text.replace(/_/g, "");
  if (/^0[xob]/i.test(t)) t = BigInt(t).toString();
  else if (/^0\d/.test(t) && !/[.eE]/.test(t)) throw new Error("leading zeros");
  if (t.startsWith(".")) t = `0${t}`;
  t = t.replace(/\.(?=$|[eE])/, ".0");
  // JSON has no `1e5` as an int either way; Python's 1e5 is a float, and so is JSON's once the harness reads it.
  return negative && t !== "0" ? `-${t}` : negative ? "-0" : t;
}

export function parsePythonLiteral(text: string): JsonNode {
  let pos = 0;
  const fail = (message: string, at = pos): never => {
    throw new PythonLiteralError(message, at);
  };
  const skip = () => {
    while (pos < text.length && /[ \t\r\n]/.test(text[pos])) pos++;
  };

  const parseString = (): string => {
    const quote = text[pos];
    const triple = text.startsWith(quote.repeat(3), pos);
    const close = triple ? quote.repeat(3) : quote;
    const start = pos;
    pos += close.length;
    let out = "";
    while (true) {
      if (pos >= text.length) fail("unterminated string", start);
      if (text.startsWith(close, pos)) {
        pos += close.length;
        return out;
      }
      const c = text[pos];
      if (c === "\n" && !triple) fail("newline inside a string");
      if (c !== "\\") {
        out += c;
        pos++;
        continue;
      }
      const e = text[pos + 1];
      if (e !== undefined && e in SIMPLE_ESCAPES) {
        out += SIMPLE_ESCAPES[e];
        pos += 2;
        continue;
      }
      const hex = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
      if (hex === 0) {
        // Python keeps an unknown escape as written.
        out += "\\";
        pos++;
        continue;
      }
      const digits = text.slice(pos + 2, pos + 2 + hex);
      if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits)) fail(`bad \\${e} escape`);
      out += String.fromCodePoint(parseInt(digits, 16));
      pos += 2 + hex;
    }
  };

  const parseItems = (closer: string, depth: number): { items: JsonNode[]; trailingComma: boolean } => {
    const items: JsonNode[] = [];
    let trailingComma = false;
    skip();
    while (text[pos] !== closer) {
      items.push(parseValue(depth + 1));
      skip();
      trailingComma = false;
      if (text[pos] === ",") {
        pos++;
        trailingComma = true;
        skip();
      } else if (text[pos] !== closer) {
        fail(`expected ',' or '${closer}'`);
      }
    }
    pos++;
    return { items, trailingComma };
  };

  const parseValue = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail("nesting too deep");
    skip();
    const c = text[pos];
    if (c === undefined) return fail("unexpected end of input");
    if (c === "'" || c === '"') return { type: "string", value: parseString(), ...span };
    if (c === "[") {
      pos++;
      return { type: "array", items: parseItems("]", depth).items, ...span };
    }
    if (c === "(") {
      pos++;
      const { items, trailingComma } = parseItems(")", depth);
      // `(x)` is just x; `(x,)` and `()` are tuples.
      if (items.length === 1 && !trailingComma) return items[0];
      return tagged("$tuple", items);
    }
    if (c === "{") {
      pos++;
      skip();
      if (text[pos] === "}") {
        pos++;
        return tagged("$dict", []);
      }
      const first = parseValue(depth + 1);
      skip();
      if (text[pos] !== ":") {
        let rest: JsonNode[] = [];
        if (text[pos] === ",") {
          pos++;
          rest = parseItems("}", depth).items;
        } else if (text[pos] === "}") {
          pos++;
        } else {
          fail("expected ',', ':' or '}'");
        }
        return tagged("$set", [first, ...rest]);
      }
      const pairs: JsonNode[] = [];
      let key = first;
      while (true) {
        pos++; // ':'
        const value = parseValue(depth + 1);
        pairs.push({ type: "array", items: [key, value], ...span });
        skip();
        if (text[pos] === ",") {
          pos++;
          skip();
        } else if (text[pos] !== "}") {
          fail("expected ',' or '}'");
        }
        if (text[pos] === "}") {
          pos++;
          return tagged("$dict", pairs);
        }
        key = parseValue(depth + 1);
        skip();
        if (text[pos] !== ":") fail("expected ':'");
      }
    }
    const word = /^[A-Za-z_]\w*/.exec(text.slice(pos, pos + 16));
    if (word) {
      pos += word[0].length;
      if (word[0] === "True" || word[0] === "False") return { type: "boolean", value: word[0] === "True", ...span };
      if (word[0] === "None") return { type: "null", ...span };
      return fail(`'${word[0]}' is not a literal`, pos - word[0].length);
    }
    if (c === "-" || c === "+" || /[\d.]/.test(c)) {
      const start = pos;
      let negative = false;
      while (text[pos] === "-" || text[pos] === "+") {
        if (text[pos] === "-") negative = !negative;
        pos++;
        skip();
      }
      const m = /^(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)/.exec(text.slice(pos));
      if (!m) return fail("expected a number", start);
      if (/^[A-Za-z_]/.test(text.slice(pos + m[0].length, pos + m[0].length + 1))) fail("malformed number", start);
      pos += m[0].length;
      try {
        return { type: "number", raw: numberRaw(m[0], negative), ...span };
      } catch (e) {
        return fail(`malformed number (${(e as Error).message})`, start);
      }
    }
    return fail(`unexpected '${c}'`);
  };

  const root = parseValue(0);
  skip();
  if (pos < text.length) fail(`unexpected '${text[pos]}' after the value`);
  return root;
}
