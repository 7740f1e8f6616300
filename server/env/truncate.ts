// The one truncation rule for text shown to the model (test inputs, outputs, traces, whole feedback
// messages). Training and inference both call this, so the model is trained on exactly the cuts users see.
//
// Rule, applied in this order:
//   1. Lines: if the text has more than `maxLines` lines, keep the first floor(maxLines/2) lines and the
//      last maxLines - floor(maxLines/2) lines, with one marker line "[… N lines cut …]" between them.
//   2. Characters: if the result has more than `maxChars` characters (Unicode code points, so a surrogate
//      pair is never split), keep the first floor(maxChars/2) and the last maxChars - floor(maxChars/2)
//      characters, with "[… N characters cut …]" between them (on its own line).
// Markers are not counted against the limits. Text within both limits is returned unchanged.

export interface TruncationLimits {
  maxChars: number;
  maxLines: number;
}

/** Limits for one field of a feedback item (a test input, an expected or actual output). */
export const FIELD_LIMITS: TruncationLimits = { maxChars: 1_000, maxLines: 40 };
/** Limits for a stack trace or a test runner's failure message. */
export const TRACE_LIMITS: TruncationLimits = { maxChars: 2_000, maxLines: 60 };

export function linesCutMarker(n: number): string {
  return `[… ${n} lines cut …]`;
}

export function charactersCutMarker(n: number): string {
  return `[… ${n} characters cut …]`;
}

export function truncateText(text: string, limits: TruncationLimits): string {
  if (!Number.isInteger(limits.maxChars) || limits.maxChars < 2) {
    throw new RangeError(`truncateText: maxChars must be an integer >= 2, got ${limits.maxChars}`);
  }
  if (!Number.isInteger(limits.maxLines) || limits.maxLines < 2) {
    throw new RangeError(`truncateText: maxLines must be an integer >= 2, got ${limits.maxLines}`);
  }
  return cutCharacters(cutLines(text, limits.maxLines), limits.maxChars);
}

function cutLines(text: string, maxLines: number): string {
  const lines = text.split("\n");
  if (lines.length <= maxLines) return text;
  const head = Math.floor(maxLines / 2);
  const tail = maxLines - head;
  const cut = lines.length - maxLines;
  return [...lines.slice(0, head), linesCutMarker(cut), ...lines.slice(lines.length - tail)].join("\n");
}

function cutCharacters(text: string, maxChars: number): string {
  // Cheap exit: UTF-16 length is an upper bound on the code-point count.
  if (text.length <= maxChars) return text;
  const chars = Array.from(text);
  if (chars.length <= maxChars) return text;
  const head = Math.floor(maxChars / 2);
  const tail = maxChars - head;
  const cut = chars.length - maxChars;
  return `${chars.slice(0, head).join("")}\n${charactersCutMarker(cut)}\n${chars.slice(chars.length - tail).join("")}`;
}
