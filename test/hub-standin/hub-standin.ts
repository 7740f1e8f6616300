// A local stand-in for the Hugging Face Hub, serving model folders under the Hub's URLs with the
// headers the real Hub sends, so that our model manager and the official `huggingface_hub`
// Python client can both be tested offline. What it implements follows huggingface_hub's own
// requests (hf_api.py: repo_info, list_repo_tree; file_download.py: get_hf_file_metadata, http_get):
//   GET  /api/models/{repo}/revision/{rev}[?blobs=true]   → id, sha, siblings (+ size, blobId, lfs)
//   GET  /api/models/{repo}/tree/{rev}[/{path}]?recursive → [{type, oid, size, path, lfs}]
//   HEAD|GET /{repo}/resolve/{rev}/{path}                  → 200 with X-Repo-Commit + ETag (git
//        blob sha1) for small files; for LFS files a 302 to a second "CDN" host (127.0.0.2, so
//        clients see a foreign host as with cdn-lfs.hf.co) with X-Linked-Etag (sha256) and
//        X-Linked-Size. The CDN serves bytes with Range support (206 + Content-Range).
// Listens on loopback only.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative, sep } from "node:path";

export interface StandinRepo {
  /** Folder whose files make up the repository at its one commit. */
  folder: string;
  /** 40-hex commit the `main` branch points at. Default: derived from the files. */
  commit?: string;
}

export interface StandinFile {
  path: string;
  bytes: Buffer;
  size: number;
  /** git blob sha1, the Hub's `oid` / `blobId` and the ETag of non-LFS files. */
  blobId: string;
  /** sha256 of the content, for files stored in LFS. */
  lfsSha256?: string;
}

export interface HubFaults {
  /** Serve only this many bytes of the next download of a path, then drop the connection. */
  dropAfterBytes?: Map<string, number>;
  /** Serve these bytes instead of the real content of a path (its listed size and hash unchanged). */
  corruptContent?: Map<string, Buffer>;
  /** Answer the revision API with this raw body instead of the real listing. */
  revisionBody?: string;
  /** Send this X-Repo-Commit from `resolve` instead of the real commit (a mirror that lags behind). */
  repoCommitHeader?: string;
}

export interface HubRequestRecord {
  method: string;
  url: string;
  host: string;
  range?: string;
  authorization?: string;
}

export interface RunningHubStandin {
  /** What HF_ENDPOINT should be, e.g. http://127.0.0.1:41234 */
  endpoint: string;
  requests: HubRequestRecord[];
  faults: HubFaults;
  files(repo: string): StandinFile[];
  commit(repo: string): string;
  close(): Promise<void>;
}

export interface HubStandinOptions {
  repos: Record<string, StandinRepo>;
  /** When set, Hub routes need `Authorization: Bearer <token>` (as for a private or gated repo). */
  token?: string;
  /** Files at or above this size (and every *.onnx / *_data) are LFS files. Default 10 KiB. */
  lfsThreshold?: number;
  /** Entries per page of the tree API; further pages are linked with `Link: <...>; rel="next"` as the Hub does. Default 1000. */
  treePageSize?: number;
}

interface LoadedRepo {
  commit: string;
  files: StandinFile[];
}

export async function startHubStandin(options: HubStandinOptions): Promise<RunningHubStandin> {
  const lfsThreshold = options.lfsThreshold ?? 10 * 1024;
  const repos = new Map<string, LoadedRepo>();
  for (const [id, repo] of Object.entries(options.repos)) repos.set(id, loadRepo(repo, lfsThreshold));
  const requests: HubRequestRecord[] = [];
  const faults: HubFaults = {};
  const record = (req: IncomingMessage) =>
    requests.push({ method: req.method ?? "", url: req.url ?? "", host: req.headers.host ?? "", range: req.headers.range, authorization: req.headers.authorization });

  const cdn = await listen(
    createServer((req, res) => {
      record(req);
      serveCdn(repos, faults, req, res);
    }),
    "127.0.0.2",
  );
  const cdnBase = `http://127.0.0.2:${cdn.port}`;
  const hub = await listen(
    createServer((req, res) => {
      record(req);
      if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
        sendHubError(res, 401, "Invalid credentials in Authorization header", "RepoNotFound");
        return;
      }
      serveHub(repos, faults, cdnBase, options.treePageSize ?? 1000, req, res);
    }),
    "127.0.0.1",
  );
  return {
    endpoint: `http://127.0.0.1:${hub.port}`,
    requests,
    faults,
    files: (repo) => requiredRepo(repos, repo).files,
    commit: (repo) => requiredRepo(repos, repo).commit,
    close: async () => {
      await Promise.all([hub.close(), cdn.close()]);
    },
  };
}

function requiredRepo(repos: Map<string, LoadedRepo>, id: string): LoadedRepo {
  const repo = repos.get(id);
  if (!repo) throw new Error(`the stand-in has no repo ${id}`);
  return repo;
}

function loadRepo(repo: StandinRepo, lfsThreshold: number): LoadedRepo {
  const files = walk(repo.folder).map((absolute): StandinFile => {
    const bytes = readFileSync(absolute);
    const path = relative(repo.folder, absolute).split(sep).join("/");
    const blobId = gitBlobSha1(bytes);
    const isLfs = bytes.length >= lfsThreshold || /\.onnx$|_data$|\.safetensors$/.test(path);
    const file: StandinFile = { path, bytes, size: bytes.length, blobId };
    if (isLfs) file.lfsSha256 = createHash("sha256").update(bytes).digest("hex");
    return file;
  });
  const commit = repo.commit ?? createHash("sha1").update(files.map((f) => `${f.path}:${f.blobId}`).join("\n")).digest("hex");
  return { commit, files };
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

/** git's object id of a blob: sha1("blob <size>\0" + content). */
export function gitBlobSha1(bytes: Buffer): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

function listen(server: Server, host: string): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      }),
    );
  });
}

function sendHubError(res: ServerResponse, status: number, message: string, code: string): void {
  res.writeHead(status, { "Content-Type": "application/json", "X-Error-Code": code, "X-Error-Message": message });
  res.end(JSON.stringify({ error: message }));
}

function resolveRevision(repo: LoadedRepo, revision: string): boolean {
  return revision === "main" || revision === repo.commit;
}

function serveHub(repos: Map<string, LoadedRepo>, faults: HubFaults, cdnBase: string, treePageSize: number, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://hub");
  const segments = url.pathname.split("/").slice(1).map(decodeURIComponent);
  // /api/models/{org}/{name}/revision/{rev}  and  /api/models/{org}/{name}/tree/{rev}[/path]
  if (segments[0] === "api" && segments[1] === "models") {
    const repoId = `${segments[2]}/${segments[3]}`;
    const repo = repos.get(repoId);
    if (!repo) return sendHubError(res, 404, "Repository not found", "RepoNotFound");
    const revision = segments[5] ?? "";
    if (!resolveRevision(repo, revision)) return sendHubError(res, 404, `Invalid rev id: ${revision}`, "RevisionNotFound");
    if (segments[4] === "revision") {
      if (faults.revisionBody !== undefined) {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(faults.revisionBody);
        return;
      }
      return sendJson(res, revisionInfo(repoId, repo, url.searchParams.get("blobs") === "true"));
    }
    if (segments[4] === "tree") {
      const under = segments.slice(6).join("/");
      const recursive = url.searchParams.get("recursive") === "true" || url.searchParams.get("recursive") === "True";
      const entries = treeEntries(repo, under, recursive);
      const cursor = Number(url.searchParams.get("cursor") ?? "0");
      const page = entries.slice(cursor, cursor + treePageSize);
      if (cursor + treePageSize < entries.length) {
        const next = new URL(url.toString());
        next.searchParams.set("cursor", String(cursor + treePageSize));
        res.setHeader("Link", `<http://${req.headers.host}${next.pathname}${next.search}>; rel="next"`);
      }
      return sendJson(res, page);
    }
    return sendHubError(res, 404, "Not found", "EntryNotFound");
  }
  // /{org}/{name}/resolve/{rev}/{path...}
  if (segments[2] === "resolve" && (req.method === "GET" || req.method === "HEAD")) {
    const repoId = `${segments[0]}/${segments[1]}`;
    const repo = repos.get(repoId);
    if (!repo) return sendHubError(res, 404, "Repository not found", "RepoNotFound");
    if (!resolveRevision(repo, segments[3] ?? "")) return sendHubError(res, 404, `Invalid rev id: ${segments[3]}`, "RevisionNotFound");
    const path = segments.slice(4).join("/");
    const file = repo.files.find((f) => f.path === path);
    if (!file) return sendHubError(res, 404, `Entry not found: ${path}`, "EntryNotFound");
    if (file.lfsSha256 !== undefined) {
      const body = `Found. Redirecting to ${cdnBase}/lfs/${file.lfsSha256}`;
      res.writeHead(302, {
        Location: `${cdnBase}/lfs/${file.lfsSha256}?repo=${encodeURIComponent(repoId)}&path=${encodeURIComponent(path)}&Expires=9999999999&Signature=standin`,
        "X-Repo-Commit": faults.repoCommitHeader ?? repo.commit,
        "X-Linked-Etag": `"${file.lfsSha256}"`,
        "X-Linked-Size": String(file.size),
        ETag: `"${file.blobId}"`,
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": Buffer.byteLength(body),
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    return sendBytes(req, res, file.bytes, { "X-Repo-Commit": faults.repoCommitHeader ?? repo.commit, ETag: `"${file.blobId}"` }, faults, path);
  }
  sendHubError(res, 404, "Not found", "EntryNotFound");
}

function serveCdn(repos: Map<string, LoadedRepo>, faults: HubFaults, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://cdn");
  const sha = url.pathname.replace(/^\/lfs\//, "");
  for (const repo of repos.values()) {
    const file = repo.files.find((f) => f.lfsSha256 === sha);
    if (file) return sendBytes(req, res, file.bytes, { ETag: `"${sha}"` }, faults, file.path);
  }
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("NoSuchKey");
}

/** Bytes with Range support (a single `bytes=start-[end]` range, as download clients send). */
function sendBytes(req: IncomingMessage, res: ServerResponse, original: Buffer, headers: Record<string, string>, faults: HubFaults, path: string): void {
  const bytes = faults.corruptContent?.get(path) ?? original;
  const common = { ...headers, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream" };
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
  let start = 0;
  let end = bytes.length - 1;
  let status = 200;
  if (req.headers.range !== undefined) {
    if (!range || Number(range[1]) >= bytes.length) {
      res.writeHead(416, { ...common, "Content-Range": `bytes */${bytes.length}` });
      res.end();
      return;
    }
    start = Number(range[1]);
    if (range[2] !== "") end = Math.min(Number(range[2]), bytes.length - 1);
    status = 206;
  }
  const body = bytes.subarray(start, end + 1);
  const rangeHeader: Record<string, string> = status === 206 ? { "Content-Range": `bytes ${start}-${end}/${bytes.length}` } : {};
  res.writeHead(status, { ...common, ...rangeHeader, "Content-Length": String(body.length) });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const drop = faults.dropAfterBytes?.get(path);
  if (drop !== undefined) {
    faults.dropAfterBytes?.delete(path);
    res.write(body.subarray(0, drop), () => res.destroy());
    return;
  }
  res.end(body);
}

function revisionInfo(repoId: string, repo: LoadedRepo, blobs: boolean) {
  return {
    _id: repo.commit.slice(0, 24),
    id: repoId,
    modelId: repoId,
    author: repoId.split("/")[0],
    sha: repo.commit,
    lastModified: "2026-01-01T00:00:00.000Z",
    createdAt: "2026-01-01T00:00:00.000Z",
    private: false,
    disabled: false,
    gated: false,
    downloads: 0,
    likes: 0,
    library_name: "transformers.js",
    tags: ["transformers.js", "onnx"],
    siblings: repo.files.map((f) =>
      blobs
        ? { rfilename: f.path, size: f.size, blobId: f.blobId, ...(f.lfsSha256 ? { lfs: { sha256: f.lfsSha256, size: f.size, pointerSize: 134 } } : {}) }
        : { rfilename: f.path },
    ),
    spaces: [],
    usedStorage: repo.files.reduce((n, f) => n + f.size, 0),
  };
}

function treeEntries(repo: LoadedRepo, under: string, recursive: boolean) {
  const prefix = under === "" ? "" : `${under}/`;
  const inside = repo.files.filter((f) => f.path.startsWith(prefix));
  const folders = new Set<string>();
  const entries: unknown[] = [];
  for (const f of inside) {
    const rest = f.path.slice(prefix.length).split("/");
    for (let depth = 1; depth < rest.length; depth++) {
      if (!recursive && depth > 1) break;
      folders.add(prefix + rest.slice(0, depth).join("/"));
    }
    if (recursive || rest.length === 1) {
      entries.push({ type: "file", oid: f.blobId, size: f.size, path: f.path, ...(f.lfsSha256 ? { lfs: { oid: f.lfsSha256, size: f.size, pointerSize: 134 } } : {}) });
    }
  }
  for (const folder of folders) entries.push({ type: "directory", oid: gitBlobSha1(Buffer.from(folder)), size: 0, path: folder });
  return entries;
}

function sendJson(res: ServerResponse, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}
