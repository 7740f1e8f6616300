// Reads a JSON Lines file (gzip-compressed or plain) record by record, losslessly. A malformed line becomes
// a RecordError naming the file and its 1-based line; it is never silently dropped.
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { parseLossless, RecordShapeError, type JsonObjectNode, type LosslessDocument } from "./lossless-json";
import type { RecordError } from "./set";

export interface JsonlRecord {
  /** 1-based line number in the decompressed file. */
  line: number;
  doc: LosslessDocument;
  root: JsonObjectNode;
}

export interface JsonlContents {
  records: JsonlRecord[];
  errors: RecordError[];
}

const GZIP_MAGIC = [0x1f, 0x8b];

export async function readJsonl(file: string): Promise<JsonlContents> {
  const bytes = await readFile(file);
  let text: string;
  if (bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]) {
    try {
      text = gunzipSync(bytes).toString("utf8");
    } catch (e) {
      return { records: [], errors: [{ file, line: 0, message: `not a readable gzip file: ${(e as Error).message}` }] };
    }
  } else {
    text = bytes.toString("utf8");
  }
  return parseJsonlText(text, file);
}

export function parseJsonlText(text: string, file: string): JsonlContents {
  const records: JsonlRecord[] = [];
  const errors: RecordError[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const lineText = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (lineText.trim() === "") return;
    const line = i + 1;
    try {
      const doc = parseLossless(lineText);
      if (doc.root.type !== "object") {
        errors.push({ file, line, message: `a record must be a JSON object, found ${doc.root.type}` });
        return;
      }
      records.push({ line, doc, root: doc.root });
    } catch (e) {
      errors.push({ file, line, message: `malformed JSON: ${(e as Error).message}` });
    }
  });
  return { records, errors };
}

/**
 * Converts each record with `build`; a RecordShapeError (a missing or mistyped field) becomes a RecordError
 * for that line. Any other exception is a bug and propagates.
 */
export function buildRecords<T>(file: string, contents: JsonlContents, build: (r: JsonlRecord) => T): { items: T[]; errors: RecordError[] } {
  const items: T[] = [];
  const errors = [...contents.errors];
  for (const r of contents.records) {
    try {
      items.push(build(r));
    } catch (e) {
      if (!(e instanceof RecordShapeError)) throw e;
      errors.push({ file, line: r.line, message: e.message });
    }
  }
  return { items, errors };
}
