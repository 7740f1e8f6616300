// The end of a test command's output, bounded: what the feedback shows when there is no report to
// read (fallback commands, a runner that crashed), since a failing run says why at the end.

export const TAIL_MAX_LINES = 40;
export const TAIL_MAX_CHARS = 3_000;

/** The last `maxLines` lines and at most `maxChars` characters of `text`, marked when cut. */
export function tailOf(text: string, maxLines = TAIL_MAX_LINES, maxChars = TAIL_MAX_CHARS): string {
  const trimmed = text.replace(/\r\n?/g, "\n").replace(/\s+$/, "");
  let lines = trimmed.split("\n");
  let cut = false;
  if (lines.length > maxLines) {
    lines = lines.slice(lines.length - maxLines);
    cut = true;
  }
  let tail = lines.join("\n");
  const chars = Array.from(tail);
  if (chars.length > maxChars) {
    tail = chars.slice(chars.length - maxChars).join("");
    cut = true;
  }
  return cut ? `[… earlier output cut …]\n${tail}` : tail;
}

/** stdout and stderr tails, labelled; empty streams are left out. */
export function outputTail(stdout: Buffer, stderr: Buffer, truncated = false): string {
  const parts: string[] = [];
  for (const [label, bytes] of [["stdout", stdout], ["stderr", stderr]] as const) {
    const text = bytes.toString("utf8");
    if (text.trim() !== "") parts.push(`${label}:\n${tailOf(text)}`);
  }
  if (parts.length === 0) return "(the command printed nothing)";
  if (truncated) parts.push("(output exceeded the capture limit and was cut)");
  return parts.join("\n");
}
