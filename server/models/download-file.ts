// Downloads one repository file to disk the way the Hub serves it: follows its redirects (to a
// CDN for LFS files, dropping our Authorization header on a foreign host as huggingface_hub
// does), resumes a partial `<file>.part` with a Range request, reports progress, and only moves
// the file into place once its size and hash match the Hub's listing. A bad file is deleted.
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { describeCause } from "./hub-listing";

export interface ExpectedContent {
  size: number;
  /** sha256 of the content (the Hub lists it for LFS files). */
  sha256?: string;
  /** git blob sha1 (the Hub's blobId), checked when no sha256 is known. */
  gitBlobSha1?: string;
}

export interface FileDownload {
  url: string;
  /** Headers for the Hub's own host; dropped when a redirect leads elsewhere. */
  hubHeaders: Record<string, string>;
  destination: string;
  expected: ExpectedContent;
  /** Called as bytes arrive: bytes of this file on disk so far, and its full size. */
  onProgress?: (bytesDone: number, totalBytes: number) => void;
  signal?: AbortSignal;
  /** How many times a dropped transfer is resumed before giving up. Default 3. */
  maxResumes?: number;
  /** The commit the listing resolved to; the Hub's X-Repo-Commit header must agree. */
  expectedCommit?: string;
}

const MAX_REDIRECTS = 5;

export async function downloadFile(download: FileDownload): Promise<void> {
  const part = `${download.destination}.part`;
  const maxResumes = download.maxResumes ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      await transfer(download, part);
      break;
    } catch (error) {
      // Only dropped transfers are worth resuming; HTTP errors and hash mismatches are final.
      if (!(error instanceof TransferInterrupted) || attempt >= maxResumes || download.signal?.aborted) throw error;
    }
  }
  await verify(part, download);
  await rename(part, download.destination);
}

class TransferInterrupted extends Error {}

async function transfer(download: FileDownload, part: string): Promise<void> {
  const total = download.expected.size;
  let have = await fileSize(part);
  if (have > total) {
    await rm(part, { force: true });
    have = 0;
  }
  download.onProgress?.(have, total);
  if (have === total) return;
  let response = await request(download, have);
  if (response.status === 416) {
    // The server does not accept our range: the partial file is not a prefix it knows. Start over.
    await response.body?.cancel();
    await rm(part, { force: true });
    have = 0;
    response = await request(download, 0);
  }
  if (response.status === 200 && have > 0) have = 0; // the server ignored the Range header
  else if (response.status === 206) {
    const start = /^bytes (\d+)-/.exec(response.headers.get("content-range") ?? "");
    if (!start || Number(start[1]) !== have) {
      await response.body?.cancel();
      throw new Error(`the server answered ${download.url} with a range not starting at byte ${have}: ${response.headers.get("content-range")}`);
    }
  } else if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`downloading ${download.url} failed: HTTP ${response.status}`);
  }
  const file = await open(part, have === 0 ? "w" : "a");
  let done = have;
  try {
    if (!response.body) throw new TransferInterrupted(`no body from ${download.url}`);
    for await (const chunk of response.body) {
      await file.write(chunk);
      done += chunk.length;
      if (done > total) throw new Error(`${download.url} sent more than the ${total} bytes the Hub listed`);
      download.onProgress?.(done, total);
    }
  } catch (error) {
    if (download.signal?.aborted) throw new Error(`download of ${download.url} cancelled`);
    if (error instanceof TransferInterrupted || (error instanceof Error && error.message.includes("sent more than"))) throw error;
    throw new TransferInterrupted(`the transfer of ${download.url} broke off at byte ${done}: ${describeCause(error)}`);
  } finally {
    await file.close();
  }
  if (done < total) throw new TransferInterrupted(`the transfer of ${download.url} ended at byte ${done} of ${total}`);
}

async function request(download: FileDownload, from: number): Promise<Response> {
  let url = new URL(download.url);
  const hubHost = url.host;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { "Accept-Encoding": "identity", ...(url.host === hubHost ? download.hubHeaders : {}) };
    if (from > 0) headers.Range = `bytes=${from}-`;
    let response: Response;
    try {
      response = await fetch(url, { headers, redirect: "manual", signal: download.signal });
    } catch (error) {
      if (download.signal?.aborted) throw new Error(`download of ${download.url} cancelled`);
      throw new TransferInterrupted(`cannot reach ${url.origin}${url.pathname}: ${describeCause(error)}`);
    }
    const commit = response.headers.get("x-repo-commit");
    if (download.expectedCommit !== undefined && commit !== null && commit !== download.expectedCommit) {
      await response.body?.cancel();
      throw new Error(`${download.url} is served from commit ${commit}, not the listed ${download.expectedCommit}; the endpoint is inconsistent`);
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.body?.cancel();
      url = new URL(location, url);
      continue;
    }
    return response;
  }
  throw new Error(`more than ${MAX_REDIRECTS} redirects downloading ${download.url}`);
}

async function verify(part: string, download: FileDownload): Promise<void> {
  const { size, sha256, gitBlobSha1 } = download.expected;
  const name = download.destination;
  const actualSize = await fileSize(part);
  if (actualSize !== size) {
    await rm(part, { force: true });
    throw new Error(`${name}: downloaded ${actualSize} bytes but the Hub lists ${size}; the file was discarded`);
  }
  const check = sha256 !== undefined ? { algorithm: "sha256", expected: sha256, prefix: "" } : gitBlobSha1 !== undefined ? { algorithm: "sha1", expected: gitBlobSha1, prefix: `blob ${size}\0` } : undefined;
  if (check === undefined) return;
  const hash = createHash(check.algorithm).update(check.prefix);
  const actual = await hashFile(part, hash);
  if (actual !== check.expected) {
    await rm(part, { force: true });
    const label = check.algorithm === "sha256" ? "sha256" : "git blob sha1";
    throw new Error(`${name}: ${label} mismatch (expected ${check.expected}, got ${actual}); the file was discarded`);
  }
}

function hashFile(path: string, hash: Hash): Promise<string> {
  return new Promise((resolve, reject) => {
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
