// Redaction of a session record before it is written: credentials, private keys, e-mail addresses and the
// user's home folder are replaced in every string of the record. It errs on the side of replacing: a
// replaced string in a task's tests makes the task unusable for training, which the writer records, but a
// secret never reaches the disk.
import { homedir, userInfo } from "node:os";

export interface RedactionRule {
  kind: string;
  pattern: RegExp;
  /** The replacement (may use the pattern's groups). */
  replace: string;
}

/** The rules, applied in order to each string (private keys first: their bodies would match the token rules). */
export const REDACTION_RULES: readonly RedactionRule[] = [
  {
    kind: "private-key",
    pattern: /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g,
    replace: "[redacted private key]",
  },
  // Credentials in URLs: scheme://user:password@host
  { kind: "url-credentials", pattern: /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/:@]+:[^\s/@]+@/gi, replace: "$1[redacted]@" },
  { kind: "bearer-token", pattern: /\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/-]{16,}=*/g, replace: "$1$2[redacted]" },
  // Well-known token formats (OpenAI, Anthropic, GitHub, GitLab, Hugging Face, AWS, Slack, Google, Stripe, JWTs).
  {
    kind: "api-key",
    pattern:
      /\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}|hf_[A-Za-z0-9]{30,}|(?:AKIA|ASIA)[0-9A-Z]{16}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|(?:sk|rk)_live_[A-Za-z0-9]{20,}|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})/g,
    replace: "[redacted api key]",
  },
  // password = "…", API_KEY: '…', "client_secret": "…" (the quoted value only; the name stays).
  {
    kind: "secret-assignment",
    pattern: /\b([A-Za-z0-9_]*(?:passw(?:or)?d|secret|api[_-]?key|access[_-]?key|auth[_-]?token|access[_-]?token|private[_-]?key)[A-Za-z0-9_]*["']?\s*[:=]\s*)(["'])([^"'\n]{4,})\2/gi,
    replace: "$1$2[redacted]$2",
  },
  { kind: "email", pattern: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g, replace: "[redacted email]" },
];

export interface RedactionOptions {
  /** The user's home folder, replaced by "~" (default: this process's). */
  home?: string;
  /** The user's login name, replaced where it appears as a path segment (default: this process's). */
  userName?: string;
  /** Exact strings to remove wherever they appear (the endpoint's API key the server holds). */
  secrets?: readonly string[];
}

export interface RedactionCounter {
  count: number;
  kinds: Set<string>;
}

/** A function that redacts one string, counting what it replaced into `counter`. */
export function makeRedactor(options: RedactionOptions = {}): (text: string, counter: RedactionCounter) => string {
  const home = (options.home ?? safeHome()).replace(/\/+$/, "");
  const user = options.userName ?? safeUserName();
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const homePattern = home && home !== "/" ? new RegExp(escapeRegExp(home) + "(?![A-Za-z0-9_.-])", "g") : null;
  const userPattern = user && user.length >= 2 && user !== "root" ? new RegExp(`(/(?:home|Users)/)${escapeRegExp(user)}(?=/|$)`, "g") : null;
  return (text, counter) => {
    let out = text;
    const apply = (kind: string, pattern: RegExp, replace: string) => {
      pattern.lastIndex = 0;
      let hits = 0;
      out = out.replace(pattern, (...args) => {
        hits++;
        // Expand $1, $2 ... by hand so the callback form keeps counting.
        return replace.replace(/\$(\d)/g, (_, n: string) => String(args[Number(n)] ?? ""));
      });
      if (hits > 0) {
        counter.count += hits;
        counter.kinds.add(kind);
      }
    };
    for (const secret of secrets) apply("known-secret", new RegExp(escapeRegExp(secret), "g"), "[redacted]");
    for (const rule of REDACTION_RULES) apply(rule.kind, rule.pattern, rule.replace);
    if (homePattern) apply("home-path", homePattern, "~");
    if (userPattern) apply("user-name", userPattern, "$1[user]");
    return out;
  };
}

/**
 * A deep copy of `value` with every string redacted (object keys are left alone; they are the record's own
 * field names). Returns the copy and what was replaced.
 */
export function redactValue<T>(value: T, redact: (text: string, counter: RedactionCounter) => string, counter: RedactionCounter): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return redact(v, counter);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function safeHome(): string {
  try {
    return homedir();
  } catch {
    return "";
  }
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}
