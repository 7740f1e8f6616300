// The file listing of a model repository at a revision, from the Hub's API:
//   GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true
// → { sha, siblings: [{ rfilename, size, blobId, lfs?: { sha256, size } }] }.
// The answer crosses a network boundary, so every field used is checked, and a malformed answer
// fails with the field named rather than as a crash further down.
import { redactSecret, type HubSettings } from "./hub-settings";

export interface HubFile {
  path: string;
  size: number;
  /** git blob sha1 of the content (for LFS files: of the pointer). */
  blobId: string;
  /** sha256 of the content, for LFS files. */
  lfsSha256?: string;
}

export interface RepoListing {
  repo: string;
  /** The commit the revision resolved to; downloads use it so that every file comes from one commit. */
  commit: string;
  files: HubFile[];
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

export function validateRepoId(repo: string): void {
  if (!REPO_ID.test(repo) || repo.includes("..")) {
    throw new Error(`"${repo}" is not a Hub model id; expected "owner/name" (letters, digits, '-', '_', '.')`);
  }
}

/** Headers for requests to the Hub itself (never to a CDN host it redirects to). */
export function hubHeaders(settings: HubSettings): Record<string, string> {
  return settings.token ? { Authorization: `Bearer ${settings.token}` } : {};
}

export async function fetchRepoListing(settings: HubSettings, repo: string, revision: string, signal?: AbortSignal): Promise<RepoListing> {
  validateRepoId(repo);
  const url = `${settings.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  let response: Response;
  try {
    response = await fetch(url, { headers: hubHeaders(settings), signal });
  } catch (error) {
    throw new Error(`cannot reach the Hub at ${url}: ${redactSecret(describeCause(error), settings.token)}`);
  }
  if (!response.ok) throw new Error(await hubErrorMessage(response, `${repo}@${revision}`, settings));
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new Error(`the Hub's listing of ${repo}@${revision} (${url}) is not JSON`);
  }
  return parseRepoListing(repo, revision, body);
}

export function parseRepoListing(repo: string, revision: string, body: unknown): RepoListing {
  const where = `the Hub's listing of ${repo}@${revision}`;
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error(`${where} is not a JSON object`);
  const { sha, siblings } = body as Record<string, unknown>;
  if (typeof sha !== "string" || !/^[0-9a-f]{40}$/.test(sha)) throw new Error(`${where} has no commit: 'sha' must be 40 hex digits, got ${JSON.stringify(sha)}`);
  if (!Array.isArray(siblings)) throw new Error(`${where} has no 'siblings' array`);
  const files = siblings.map((entry: unknown, index): HubFile => {
    const at = `${where}: siblings[${index}]`;
    if (typeof entry !== "object" || entry === null) throw new Error(`${at} is not an object`);
    const { rfilename, size, blobId, lfs } = entry as Record<string, unknown>;
    if (typeof rfilename !== "string" || rfilename === "") throw new Error(`${at}.rfilename must be a non-empty string`);
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw new Error(`${at}.size must be a byte count (the listing must be asked with ?blobs=true), got ${JSON.stringify(size)}`);
    }
    if (typeof blobId !== "string" || !/^[0-9a-f]{40}$/.test(blobId)) throw new Error(`${at}.blobId must be 40 hex digits`);
    const file: HubFile = { path: rfilename, size, blobId };
    if (lfs !== undefined && lfs !== null) {
      const info = lfs as Record<string, unknown>;
      if (typeof info.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(info.sha256)) throw new Error(`${at}.lfs.sha256 must be 64 hex digits`);
      if (info.size !== size) throw new Error(`${at}.lfs.size (${JSON.stringify(info.size)}) differs from its size (${size})`);
      file.lfsSha256 = info.sha256;
    }
    return file;
  });
  return { repo, commit: sha, files };
}

/** The Hub says why in X-Error-Message / X-Error-Code or a JSON {error}; we add what to do. */
export async function hubErrorMessage(response: Response, what: string, settings: HubSettings): Promise<string> {
  const code = response.headers.get("x-error-code") ?? "";
  let detail = response.headers.get("x-error-message") ?? "";
  if (detail === "") {
    const text = await response.text().catch(() => "");
    try {
      const parsed = JSON.parse(text) as { error?: unknown };
      detail = typeof parsed.error === "string" ? parsed.error : text.slice(0, 300);
    } catch {
      detail = text.slice(0, 300);
    }
  }
  detail = redactSecret(detail, settings.token);
  const status = response.status;
  if (status === 401 || status === 403) {
    const hint = settings.token ? "check that HF_TOKEN is valid and has access to this repository" : "the repository may be private or gated: set HF_TOKEN";
    return `the Hub refused ${what} (HTTP ${status}${code ? ` ${code}` : ""}): ${detail}; ${hint}`;
  }
  if (code === "RepoNotFound") return `model repository not found on the Hub: ${what} (${detail})`;
  if (code === "RevisionNotFound") return `revision not found on the Hub: ${what} (${detail})`;
  if (code === "EntryNotFound" || status === 404) return `not found on the Hub: ${what} (HTTP ${status}: ${detail})`;
  return `the Hub answered HTTP ${status} for ${what}: ${detail}`;
}

export function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? `: ${(cause as { code?: string }).code ?? ""} ${cause.message}`.trimEnd() : "";
  return `${error.message}${causeText}`;
}
