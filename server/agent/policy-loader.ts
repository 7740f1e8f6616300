// Which policy the agent uses: the bundled demo model, a downloaded ONNX model folder, or an
// OpenAI-compatible endpoint. A replay policy (recorded responses) is selectable only through the
// RLEF_REPLAY_POLICY environment variable, which test harnesses set; it is never a setting.
import { existsSync } from "node:fs";
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

export function makePolicyLoader(context: PolicyLoaderContext): (settings: ServerSettings) => Promise<Policy> {
  return async (settings) => {
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
}
