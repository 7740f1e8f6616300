// The local model cache: one model folder per downloaded repository and variant, each with a
// manifest saying where it came from, and a `current` pointer file naming the selected one.
//   {cacheDir}/{owner}--{name}[--{variant}]/            the model folder (design.md layout)
//   {cacheDir}/{owner}--{name}[--{variant}]/rlef-model.json
//   {cacheDir}/{...}.incomplete/                         a download in progress (resumable)
//   {cacheDir}/current                                   the selected model's name
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { OnnxVariant } from "../policy/onnx/model-folder";

export const MANIFEST_FILE = "rlef-model.json";
const POINTER_FILE = "current";
const MANIFEST_VERSION = 1;

export interface ModelManifest {
  version: number;
  repo: string;
  revision: string;
  commit: string;
  variant: OnnxVariant;
  files: { path: string; size: number }[];
  downloadedAt: string;
}

export interface InstalledModel {
  name: string;
  path: string;
  manifest: ModelManifest;
  sizeBytes: number;
  current: boolean;
}

export function modelName(repo: string, variant: OnnxVariant): string {
  const base = repo.replace("/", "--");
  return variant === "fp32" ? base : `${base}--${variant}`;
}

/** Names come from users (`rlef models remove <name>`): they must not reach outside the cache. */
export function assertModelName(name: string): void {
  if (!/^[A-Za-z0-9][\w.-]*$/.test(name) || name.includes("..") || name.endsWith(".incomplete")) {
    throw new Error(`"${name}" is not a model name; run 'rlef models list' to see the installed ones`);
  }
}

export function readManifest(folder: string): ModelManifest {
  const path = join(folder, MANIFEST_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`cannot read the model manifest ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const m = parsed as Partial<ModelManifest> | null;
  if (
    typeof m !== "object" || m === null || m.version !== MANIFEST_VERSION || typeof m.repo !== "string" ||
    typeof m.revision !== "string" || typeof m.commit !== "string" || typeof m.variant !== "string" ||
    !Array.isArray(m.files) || typeof m.downloadedAt !== "string"
  ) {
    throw new Error(`the model manifest ${path} is malformed (expected version ${MANIFEST_VERSION} with repo, revision, commit, variant, files, downloadedAt)`);
  }
  return m as ModelManifest;
}

export function writeManifest(folder: string, manifest: ModelManifest): void {
  writeFileSync(join(folder, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

function currentName(cacheDir: string): string | undefined {
  const pointer = join(cacheDir, POINTER_FILE);
  if (!existsSync(pointer)) return undefined;
  const name = readFileSync(pointer, "utf8").trim();
  return name === "" ? undefined : name;
}

export function listModels(cacheDir: string): InstalledModel[] {
  if (!existsSync(cacheDir)) return [];
  const current = currentName(cacheDir);
  return readdirSync(cacheDir)
    .sort()
    .filter((name) => !name.endsWith(".incomplete") && existsSync(join(cacheDir, name, MANIFEST_FILE)))
    .map((name) => {
      const path = join(cacheDir, name);
      const manifest = readManifest(path);
      const sizeBytes = manifest.files.reduce((sum, f) => sum + (existsSync(join(path, f.path)) ? statSync(join(path, f.path)).size : 0), 0);
      return { name, path, manifest, sizeBytes, current: name === current };
    });
}

export function findModel(cacheDir: string, name: string): InstalledModel {
  assertModelName(name);
  const model = listModels(cacheDir).find((m) => m.name === name);
  if (!model) throw new Error(`no model named "${name}" in ${cacheDir}; run 'rlef models list' to see the installed ones`);
  return model;
}

export function selectModel(cacheDir: string, name: string): InstalledModel {
  const model = findModel(cacheDir, name);
  // Write then rename, so a reader never sees a half-written pointer.
  const temp = join(cacheDir, `${POINTER_FILE}.tmp-${process.pid}`);
  writeFileSync(temp, `${name}\n`);
  renameSync(temp, join(cacheDir, POINTER_FILE));
  return { ...model, current: true };
}

/** The selected model, or undefined when none is selected. A pointer to a removed model is an error. */
export function currentModel(cacheDir: string): InstalledModel | undefined {
  const name = currentName(cacheDir);
  if (name === undefined) return undefined;
  assertModelName(name);
  const model = listModels(cacheDir).find((m) => m.name === name);
  if (!model) throw new Error(`the selected model "${name}" is no longer in ${cacheDir}; select another with 'rlef models select <name>'`);
  return model;
}

export function removeModel(cacheDir: string, name: string): void {
  const model = findModel(cacheDir, name);
  rmSync(model.path, { recursive: true, force: true });
  rmSync(`${model.path}.incomplete`, { recursive: true, force: true });
  if (currentName(cacheDir) === name) rmSync(join(cacheDir, POINTER_FILE), { force: true });
}

export function ensureCacheDir(cacheDir: string): void {
  mkdirSync(cacheDir, { recursive: true });
}
