// `rlef sessions [status | clear --yes] [--dir DIR] [--json]`: what the opt-in session log holds, and deleting it.
// The trainer's side of the same log is `rlef-train sessions` (trainer/README.md).
import { resolve } from "node:path";
import { clearSessionLog, defaultSessionLogDir, readSessionLog, SessionLogError } from "../../session-log/log";
import { parseCommandArgs } from "../parse-args";

const USAGE = `usage:
  rlef sessions [status] [--dir DIR] [--json]   what the session log holds
  rlef sessions clear --yes [--dir DIR]         delete its files (sessions-*.jsonl; nothing else in the folder)

The session log is off unless turned on (the editor's "RLEF: Turn On Session Logging…", or
'rlef solve --log'): one redacted line per agent run and per review decision (docs/session-log.md).

options:
  --dir DIR   the log folder (default $XDG_STATE_HOME/rlef/sessions, else ~/.local/state/rlef/sessions)
  --json      the summary as JSON
  --yes       clear: confirm the deletion (there is no prompt)
`;

export async function sessionsCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseCommandArgs("sessions", argv, { dir: { type: "string" }, json: { type: "boolean" }, yes: { type: "boolean" } }, USAGE);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const [action = "status", ...extra] = positionals;
  if (extra.length > 0 || (action !== "status" && action !== "clear")) {
    process.stderr.write(`rlef sessions: unknown action ${JSON.stringify([action, ...extra].join(" "))}\n\n${USAGE}`);
    return 2;
  }
  const dir = values.dir ? resolve(values.dir) : defaultSessionLogDir(env);
  try {
    if (action === "clear") {
      if (!values.yes) {
        process.stderr.write(`rlef sessions clear: add --yes to delete the session log in ${dir}\n`);
        return 2;
      }
      const deleted = await clearSessionLog(dir);
      process.stdout.write(`deleted ${deleted} log file(s) in ${dir}\n`);
      return 0;
    }
    const log = await readSessionLog(dir);
    const count = <T extends string>(values: T[]) => values.reduce<Record<string, number>>((acc, v) => ((acc[v] = (acc[v] ?? 0) + 1), acc), {});
    const untrainable = count(log.sessions.filter((s) => !s.trainable).map((s) => s.notTrainableBecause ?? "unknown"));
    const decisions = count([...log.reviews.values()]);
    const summary = {
      folder: dir,
      files: log.files.length,
      bytes: log.bytes,
      sessions: log.sessions.length,
      outcomes: count(log.sessions.map((s) => s.outcome)),
      commands: count(log.sessions.map((s) => s.command)),
      trainable: log.sessions.filter((s) => s.trainable).length,
      notTrainable: untrainable,
      reviews: { accepted: decisions.accepted ?? 0, rejected: decisions.rejected ?? 0 },
      problems: log.problems.map((p) => `${p.file}:${p.line}: ${p.message}`),
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
      return 0;
    }
    const lines = [`session log ${dir}: ${summary.files} file(s), ${(summary.bytes / 1024).toFixed(1)} KiB`];
    if (summary.sessions === 0) lines.push("no sessions logged");
    else {
      const parts = (counts: Record<string, number>) => Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ");
      lines.push(`${summary.sessions} session(s): ${parts(summary.outcomes)} (${parts(summary.commands)})`);
      lines.push(`reviews: ${summary.reviews.accepted} accepted, ${summary.reviews.rejected} rejected`);
      lines.push(`${summary.trainable} trainable (rlef-train sessions lists their distinct tasks)`);
      for (const [why, n] of Object.entries(untrainable)) lines.push(`  ${n} not trainable: ${why}`);
    }
    for (const p of summary.problems.slice(0, 20)) lines.push(`problem: ${p}`);
    if (summary.problems.length > 20) lines.push(`... and ${summary.problems.length - 20} more problem(s)`);
    process.stdout.write(lines.join("\n") + "\n");
    return 0;
  } catch (err) {
    if (!(err instanceof SessionLogError)) throw err;
    process.stderr.write(`rlef sessions: ${err.message}\n`);
    return 2;
  }
}
