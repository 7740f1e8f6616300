// Which policy the agent uses: the bundled demo model, a downloaded ONNX model folder, or an
// OpenAI-compatible endpoint. A replay policy (recorded responses) is selectable only through the
// RLEF_REPLAY_POLICY environment variable, which test harnesses set; it is never a setting.
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { currentModel } from "../models/model-cache";
import { defaultModelCacheDir } from "../models/hub-settings";
import { loadOnnxPolicy } from "../policy/onnx/onnx-policy";
import { createOpenAIPolicy } from "../policy/openai/openai-policy";
import { loadReplayPolicy } from "../policy/replay";
import type { Policy } from "../policy/types";
import type { ServerSettings } from "../lsp/settings";

/** Where the bundled demo policy lives, relative to the extension (or repository) root. */
export const DEMO_MODEL_DIR = join("models", "demo");

export interface PolicyLoaderContext {
  /** The extension's (or repository's) root folder, which holds models/demo. */
  root: string;
  /** Reads an API key (the editor's secret storage, else environment variables); never logged. */
  apiKey?: () => string | undefined;
  /** The model manager's cache (the editor's global storage); default $XDG_CACHE_HOME/rlef/models. */
  modelCacheDir?: () => string | undefined;
  /** Diagnostic lines of the endpoint backend (the key never appears in them). */
  log?: (line: string) => void;
}

/** The folder holding package.json above this module: the repository, or the installed extension. */
export function installRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

export function demoModelPath(root: string = installRoot()): string {
  return join(root, DEMO_MODEL_DIR);
}

/**
 * Loads the policy the settings name. `fingerprint` says which model files a loaded policy came from: when it
 * changes (a trainer's `rlef-train export` replaced the folder, a download updated it), the session loads the
 * policy again before the next run: the hot swap of a newly trained model.
 */
export interface PolicyLoader {
  (settings: ServerSettings): Promise<Policy>;
  fingerprint?: (settings: ServerSettings) => string | null;
}

/** The model folder the settings name (demo or ONNX backends), or null (endpoint, replay, none chosen). */
export function modelFolderOf(settings: ServerSettings, context: PolicyLoaderContext): string | null {
  if (process.env.RLEF_REPLAY_POLICY) return null;
  if (settings.policy.backend === "demo") return demoModelPath(context.root);
  if (settings.policy.backend === "onnx") return settings.policy.modelPath || currentModel(context.modelCacheDir?.() ?? defaultModelCacheDir())?.path || null;
  return null;
}

/**
 * Identity of a model folder's files: name, inode, size and modification time of each file at its root and in
 * onnx/. A folder renamed into place, a file rewritten or replaced, all change it; reading it costs a few stats.
 */
export function modelFolderStamp(folder: string): string {
  const parts: string[] = [folder];
  for (const dir of [folder, join(folder, "onnx")]) {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      parts.push(`${dir}: missing`);
      continue;
    }
    for (const name of names) {
      try {
        const s = statSync(join(dir, name));
        if (s.isFile()) parts.push(`${dir}/${name}:${s.ino}:${s.size}:${s.mtimeMs}`);
      } catch {
        // Vanished between the listing and the stat: the next look sees the new state.
      }
    }
  }
  return parts.join("|");
}

export function makePolicyLoader(context: PolicyLoaderContext): PolicyLoader {
  const loader: PolicyLoader = async (settings) => {
    const replay = process.env.RLEF_REPLAY_POLICY;
    if (replay) return loadReplayPolicy(replay);
    const threads = settings.policy.threads > 0 ? settings.policy.threads : undefined;
    const idleUnloadMs = settings.policy.idleUnloadSeconds * 1000;
    switch (settings.policy.backend) {
      case "demo": {
        const path = demoModelPath(context.root);
        if (!existsSync(join(path, "config.json"))) {
          throw new Error(`the bundled demo model is missing from ${path}; reinstall the extension or select another model`);
        }
        return loadOnnxPolicy(path, { intraOpThreads: threads, idleUnloadMs });
      }
      case "onnx": {
        // An explicit folder wins; otherwise the model selected in the model manager's cache.
        const folder = settings.policy.modelPath || currentModel(context.modelCacheDir?.() ?? defaultModelCacheDir())?.path;
        if (!folder) throw new Error("no ONNX model chosen: set rlef.policy.modelPath, or download one with 'RLEF: Download Model'");
        return loadOnnxPolicy(folder, { intraOpThreads: threads, idleUnloadMs });
      }
      case "endpoint":
        if (!settings.endpoint.model) throw new Error("rlef.endpoint.model is empty: name the model to request from the endpoint");
        return createOpenAIPolicy({ baseUrl: settings.endpoint.url, model: settings.endpoint.model, apiKey: context.apiKey?.(), log: context.log });
    }
  };
  loader.fingerprint = (settings) => {
    const folder = modelFolderOf(settings, context);
    return folder === null ? null : modelFolderStamp(folder);
  };
  return loader;
}
