// Where the project copy was when the runner ran, read back from the absolute paths in its report.
// Under bubblewrap the copy is always /work; unisolated (consented) runs use a fresh temporary folder
// whose name only the sandbox knows, so it is recovered from the report: an absolute path that ends in
// one of the project's own files gives away the folder it sits in.

const ABSOLUTE_PATH = /(?:file:\/\/)?(\/(?:[^\s"'<>()/:]+\/)+[^\s"'<>()/:]+)/g;

/** The folder most reported paths place the project's files in, or null when no path matches. */
export function inferProjectRoot(reportText: string, projectFiles: ReadonlySet<string>): string | null {
  const votes = new Map<string, number>();
  for (const match of reportText.matchAll(ABSOLUTE_PATH)) {
    const parts = match[1].split("/");
    // Longest suffix first: `/tmp/x/tests/test_a.py` tries `tmp/x/tests/test_a.py`, then `x/tests/…`.
    for (let i = 1; i < parts.length; i++) {
      if (projectFiles.has(parts.slice(i).join("/"))) {
        const root = parts.slice(0, i).join("/");
        if (root !== "") votes.set(root, (votes.get(root) ?? 0) + 1);
        break;
      }
    }
  }
  let best: string | null = null;
  let bestVotes = 0;
  for (const [root, count] of votes) {
    if (count > bestVotes) [best, bestVotes] = [root, count];
  }
  return best;
}
