// Trims a failure trace to the user's code: project paths become relative, frames inside test
// frameworks, runtimes and installed packages are dropped. The model and the user both read these,
// and frames from jest-circus or _pytest only spend the feedback budget without saying anything.

const JS_FRAME = /^\s*at\s/;
const PY_FRAME = /^\s*File "([^"]*)", line \d+/;
const PYTEST_FRAME = /^(\S.*?):\d+: in \S+\s*$/;
const FROZEN = /^<frozen [^>]+>/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Replaces the absolute project root (plain or as a file:// URL) with nothing, leaving relative paths. */
export function relativizePaths(text: string, projectRoot: string): string {
  const root = projectRoot.replace(/\/+$/, "");
  if (root === "") return text;
  const pattern = new RegExp(`(?:file://)?${escapeRegExp(root)}/`, "g");
  return text.replace(pattern, "");
}

function isLibraryLocation(location: string): boolean {
  return (
    location.startsWith("/") ||
    location.startsWith("file://") ||
    location.startsWith("node:") ||
    FROZEN.test(location) ||
    location.includes("node_modules/") ||
    location.includes("site-packages/")
  );
}

function isLibraryJsFrame(line: string): boolean {
  // Node prints an error's own properties after its last frame: `at f (file:1:2) {`.
  const at = line.replace(JS_FRAME, "").replace(/\s*\{\s*$/, "");
  const inParens = /\(([^()]*)\)$/.exec(at);
  const location = inParens ? inParens[1] : at.trim();
  return location === "<anonymous>" || isLibraryLocation(location);
}

const indentOf = (line: string): number => line.length - line.trimStart().length;

/** Trims `trace` to the user's code. Paths under `projectRoot` become relative first. */
export function trimTrace(trace: string, projectRoot: string): string {
  const lines = relativizePaths(trace, projectRoot).replace(/\r\n?/g, "\n").split("\n");
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (JS_FRAME.test(line)) {
      if (!isLibraryJsFrame(line)) kept.push(line);
      continue;
    }
    const py = PY_FRAME.exec(line);
    if (py && isLibraryLocation(py[1])) {
      // Also drop the frame's source line and caret markers, which are indented deeper.
      const depth = indentOf(line);
      while (i + 1 < lines.length && lines[i + 1].trim() !== "" && indentOf(lines[i + 1]) > depth) i++;
      continue;
    }
    const pytestFrame = PYTEST_FRAME.exec(line);
    if (pytestFrame && isLibraryLocation(pytestFrame[1])) {
      // pytest's long format: the frame's source follows, indented, until the next unindented line.
      while (i + 1 < lines.length && /^\s/.test(lines[i + 1])) i++;
      continue;
    }
    kept.push(line);
  }
  return kept
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
