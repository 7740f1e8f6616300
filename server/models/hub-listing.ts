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
  const { body } = await getJson(settings, url, `${repo}@${revision}`, signal);
  const listing = parseRepoListing(repo, revision, body);
  if (listing.files !== undefined) return { repo, commit: listing.commit, files: listing.files };
  // Some mirrors ignore ?blobs=true; the tree API carries sizes and LFS hashes as well.
  return { repo, commit: listing.commit, files: await fetchTree(settings, repo, listing.commit, signal) };
}

async function getJson(settings: HubSettings, url: string, what: string, signal?: AbortSignal): Promise<{ body: unknown; response: Response }> {
  let response: Response;
  try {
    response = await fetch(url, { headers: hubHeaders(settings), signal });
  } catch (error) {
    throw new Error(`cannot reach the Hub at ${url}: ${redactSecret(describeCause(error), settings.token)}`);
  }
  if (!response.ok) throw new Error(await hubErrorMessage(response, what, settings));
  try {
    return { body: await response.json(), response };
  } catch {
    throw new Error(`the Hub's listing of ${what} (${url}) is not JSON`);
  }
}

/**
 * The revision API's answer. `files` is undefined when the siblings carry no sizes (the listing
 * was served without blobs), so that the caller falls back to the tree API.
 */
export function parseRepoListing(repo: string, revision: string, body: unknown): { commit: string; files?: HubFile[] } {
  const where = `the Hub's listing of ${repo}@${revision}`;
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error(`${where} is not a JSON object`);
  const { sha, siblings } = body as Record<string, unknown>;
  if (typeof sha !== "string" || !/^[0-9a-f]{40}$/.test(sha)) throw new Error(`${where} has no commit: 'sha' must be 40 hex digits, got ${JSON.stringify(sha)}`);
  if (!Array.isArray(siblings)) throw new Error(`${where} has no 'siblings' array`);
  const withoutBlobs = siblings.every((entry: unknown) => typeof entry === "object" && entry !== null && (entry as Record<string, unknown>).size === undefined);
  if (withoutBlobs && siblings.length > 0) return { commit: sha };
  const files = siblings.map((entry: unknown, index) => {
    const at = `${where}: siblings[${index}]`;
    if (typeof entry !== "object" || entry === null) throw new Error(`${at} is not an object`);
    const { rfilename, size, blobId, lfs } = entry as Record<string, unknown>;
    const info = lfs as Record<string, unknown> | null | undefined;
    return hubFile(at, { path: rfilename, size, oid: blobId, lfsSha256: info?.sha256, lfsSize: info?.size, hasLfs: info !== undefined && info !== null }, "rfilename", "blobId", "lfs.sha256");
  });
  return { commit: sha, files };
}

interface RawFile {
  path: unknown;
  size: unknown;
  oid: unknown;
  lfsSha256: unknown;
  lfsSize: unknown;
  hasLfs: boolean;
}

function hubFile(at: string, raw: RawFile, pathField: string, oidField: string, lfsField: string): HubFile {
  if (typeof raw.path !== "string" || raw.path === "") throw new Error(`${at}.${pathField} must be a non-empty string`);
  const size = raw.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw new Error(`${at}.size must be a byte count, got ${JSON.stringify(size)}`);
  if (typeof raw.oid !== "string" || !/^[0-9a-f]{40}$/.test(raw.oid)) throw new Error(`${at}.${oidField} must be 40 hex digits`);
  const file: HubFile = { path: raw.path, size, blobId: raw.oid };
  if (raw.hasLfs) {
    if (typeof raw.lfsSha256 !== "string" || !/^[0-9a-f]{64}$/.test(raw.lfsSha256)) throw new Error(`${at}.${lfsField} must be 64 hex digits`);
    if (raw.lfsSize !== size) throw new Error(`${at}: the LFS size (${JSON.stringify(raw.lfsSize)}) differs from its size (${size})`);
    file.lfsSha256 = raw.lfsSha256;
  }
  return file;
}

/** GET /api/models/{repo}/tree/{commit}?recursive=true, following the Link: rel="next" pages. */
async function fetchTree(settings: HubSettings, repo: string, commit: string, signal?: AbortSignal): Promise<HubFile[]> {
  const files: HubFile[] = [];
  let url: string | undefined = `${settings.endpoint}/api/models/${repo}/tree/${commit}?recursive=true`;
  for (let page = 0; url !== undefined; page++) {
    if (page > 1000) throw new Error(`the Hub's tree of ${repo}@${commit} has over 1000 pages`);
    const { body, response } = await getJson(settings, url, `${repo}@${commit} (tree)`, signal);
    if (!Array.isArray(body)) throw new Error(`the Hub's tree of ${repo}@${commit} is not a JSON array`);
    body.forEach((entry: unknown, index) => {
      const at = `the Hub's tree of ${repo}@${commit}: entry ${files.length + index}`;
      if (typeof entry !== "object" || entry === null) throw new Error(`${at} is not an object`);
      const e = entry as Record<string, unknown>;
      if (e.type !== "file") return;
      const lfs = e.lfs as Record<string, unknown> | null | undefined;
      files.push(hubFile(at, { path: e.path, size: e.size, oid: e.oid, lfsSha256: lfs?.oid, lfsSize: lfs?.size, hasLfs: lfs !== undefined && lfs !== null }, "path", "oid", "lfs.oid"));
    });
    const next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get("link") ?? "")?.[1];
    url = next === undefined ? undefined : new URL(next, url).toString();
  }
  return files;
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
