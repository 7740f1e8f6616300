// `rlef models download`: list a repository on the Hub, pick the files of one ONNX variant,
// download each (resumable, hash-checked) into a staging folder, and install the folder into
// the cache in one rename once every file is verified.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { OnnxVariant } from "../policy/onnx/model-folder";
import { downloadFile } from "./download-file";
import { acquireDownloadLock } from "./download-lock";
import { fetchRepoListing, hubHeaders, type HubFile, type RepoListing } from "./hub-listing";
import type { HubSettings } from "./hub-settings";
import { ensureCacheDir, listModels, modelName, writeManifest, type InstalledModel } from "./model-cache";
import { selectModelFiles } from "./model-files";

export interface DownloadProgress {
  file: string;
  fileBytesDone: number;
  fileBytesTotal: number;
  /** Bytes of all selected files on disk so far, and their total. */
  bytesDone: number;
  bytesTotal: number;
}

export interface ModelDownloadRequest {
  repo: string;
  revision?: string;
  variant?: OnnxVariant;
  cacheDir: string;
  hub: HubSettings;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
}

export async function downloadModel(request: ModelDownloadRequest): Promise<InstalledModel> {
  const revision = request.revision ?? "main";
  const variant = request.variant ?? "fp32";
  const listing = await fetchRepoListing(request.hub, request.repo, revision, request.signal);
  const files = selectModelFiles(listing.files, variant, request.repo);
  const name = modelName(request.repo, variant);
  ensureCacheDir(request.cacheDir);
  const target = join(request.cacheDir, name);
  const staging = `${target}.incomplete`;
  const release = acquireDownloadLock(`${target}.lock`, `${request.repo} (${variant})`);
  try {
    return await fetchIntoCache({ request, listing, files, name, target, staging, revision, variant });
  } finally {
    release();
  }
}

/** What one download fetches and where it goes. */
interface DownloadPlan {
  request: ModelDownloadRequest;
  listing: RepoListing;
  files: HubFile[];
  name: string;
  /** The model folder in the cache, and the staging folder beside it. */
  target: string;
  staging: string;
  revision: string;
  variant: OnnxVariant;
}

async function fetchIntoCache({ request, listing, files, name, target, staging, revision, variant }: DownloadPlan): Promise<InstalledModel> {
  // Files left by an interrupted download are reused only if they are from the same commit.
  const stagingCommit = join(staging, ".commit");
  if (existsSync(staging) && (!existsSync(stagingCommit) || readFileSync(stagingCommit, "utf8") !== listing.commit)) {
    rmSync(staging, { recursive: true, force: true });
  }
  mkdirSync(staging, { recursive: true });
  writeFileSync(stagingCommit, listing.commit);

  const bytesTotal = files.reduce((sum, f) => sum + f.size, 0);
  let bytesBefore = 0;
  for (const file of files) {
    const destination = join(staging, ...file.path.split("/"));
    mkdirSync(dirname(destination), { recursive: true });
    if (!existsSync(destination)) {
      const base = bytesBefore;
      await downloadFile({
        // Pinned to the listed commit, so a push during the download cannot mix two versions.
        url: `${request.hub.endpoint}/${request.repo}/resolve/${listing.commit}/${file.path.split("/").map(encodeURIComponent).join("/")}`,
        hubHeaders: hubHeaders(request.hub),
        expectedCommit: listing.commit,
        destination,
        expected: file.lfsSha256 !== undefined ? { size: file.size, sha256: file.lfsSha256 } : { size: file.size, gitBlobSha1: file.blobId },
        onProgress: (done, total) =>
          request.onProgress?.({ file: file.path, fileBytesDone: done, fileBytesTotal: total, bytesDone: base + done, bytesTotal }),
        signal: request.signal,
      });
    }
    bytesBefore += file.size;
  }
  writeManifest(staging, {
    version: 1,
    repo: request.repo,
    revision,
    commit: listing.commit,
    variant,
    files: files.map((f) => ({ path: f.path, size: f.size })),
    downloadedAt: new Date().toISOString(),
  });
  rmSync(stagingCommit, { force: true });
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
  const installed = listModels(request.cacheDir).find((m) => m.name === name);
  if (!installed) throw new Error(`internal: ${name} was installed but is not listed`);
  return installed;
}
