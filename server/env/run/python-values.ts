// Renders the harness's tagged JSON (plain JSON plus {"$tuple": [...]}, {"$set": [...]}, ...) as Python
// source, so a call case reads in feedback the way the model would write it: f([1, 2], (3, 4), None).
import { parseLossless, type JsonNode } from "../tasks/lossless-json";

function pythonString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch < " ") out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quote;
}

function pythonNumber(raw: string): string {
  if (raw === "Infinity") return "float('inf')";
  if (raw === "-Infinity") return "float('-inf')";
  if (raw === "NaN") return "float('nan')";
  return raw;
}

export function renderPython(node: JsonNode): string {
  switch (node.type) {
    case "null":
      return "None";
    case "boolean":
      return node.value ? "True" : "False";
    case "number":
      return pythonNumber(node.raw);
    case "string":
      return pythonString(node.value);
    case "array":
      return `[${node.items.map(renderPython).join(", ")}]`;
    case "object": {
      if (node.entries.length === 1) {
        const [tag, inner] = node.entries[0];
        const items = inner.type === "array" ? inner.items : null;
        if (tag === "$tuple" && items) return items.length === 1 ? `(${renderPython(items[0])},)` : `(${items.map(renderPython).join(", ")})`;
        if (tag === "$set" && items) return items.length ? `{${items.map(renderPython).join(", ")}}` : "set()";
        if (tag === "$frozenset" && items) return `frozenset({${items.map(renderPython).join(", ")}})`;
        if (tag === "$dict" && items) {
          const pairs = items.map((p) => (p.type === "array" && p.items.length === 2 ? `${renderPython(p.items[0])}: ${renderPython(p.items[1])}` : "?"));
          return `{${pairs.join(", ")}}`;
        }
        if (tag === "$complex") return `complex(${items ? items.map(renderPython).join(", ") : renderPython(inner)})`;
        if (tag === "$float") return `float(${renderPython(inner)})`;
        if (tag === "$repr" && inner.type === "string") return inner.value;
        if (tag === "$hexint" && inner.type === "string") return inner.value.startsWith("-") ? `-0x${inner.value.slice(1)}` : `0x${inner.value}`;
      }
      return `{${node.entries.map(([k, v]) => `${pythonString(k)}: ${renderPython(v)}`).join(", ")}}`;
    }
  }
}

/** `entry(arg1, arg2)` from a tagged-JSON argument list. */
export function renderCall(entryPoint: string, argsJson: string): string {
  const root = parseLossless(argsJson).root;
  const args = root.type === "array" ? root.items : root.type === "object" && root.entries[0]?.[1].type === "array" ? root.entries[0][1].items : [root];
  return `${entryPoint}(${args.map(renderPython).join(", ")})`;
}
