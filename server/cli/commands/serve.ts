// `rlef serve`: the local ONNX policy behind an OpenAI-compatible endpoint, until interrupted.
// The model is a folder, a name from `rlef models list`, or (by default) the selected model.
// RLEF_SERVE_API_KEY, when set, is required from clients as a bearer token (kept out of argv,
// where other users of the machine could read it).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { defaultModelCacheDir } from "../../models/hub-settings";
import { currentModel, findModel } from "../../models/model-cache";
import { parseVariant } from "../../models/model-files";
import { loadOnnxPolicy } from "../../policy/onnx/onnx-policy";
import { startOpenAIServer } from "../../serve/openai-server";

const USAGE = `usage: rlef serve [--model DIR|NAME] [--port 8000] [--host 127.0.0.1] [--threads N]
                  [--variant fp32|fp16|quantized|q4] [--served-model-name NAME] [--max-model-len N]
  --model            a model folder, or a name from 'rlef models list' (default: the selected model)
  --cache-dir DIR    the model cache (default: $XDG_CACHE_HOME/rlef/models)
environment: RLEF_SERVE_API_KEY requires clients to send 'Authorization: Bearer <key>'
`;

export interface ServeIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Stops the server; by default SIGINT or SIGTERM do. */
  stop?: AbortSignal;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export async function serveCommand(argv: string[], io?: Partial<ServeIO>): Promise<number> {
  const out = io?.stdout ?? ((t: string) => process.stdout.write(t));
  const err = io?.stderr ?? ((t: string) => process.stderr.write(t));
  const env = io?.env ?? process.env;
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        model: { type: "string" },
        port: { type: "string", default: "8000" },
        host: { type: "string", default: "127.0.0.1" },
        threads: { type: "string" },
        variant: { type: "string", default: "fp32" },
        "served-model-name": { type: "string" },
        "max-model-len": { type: "string" },
        "cache-dir": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    err(`rlef serve: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  try {
    const port = integerOption("--port", values.port, 0, 65535);
    const threads = values.threads === undefined ? undefined : integerOption("--threads", values.threads, 1, 1024);
    const maxModelLen = values["max-model-len"] === undefined ? undefined : integerOption("--max-model-len", values["max-model-len"], 2, 10_000_000);
    const variant = parseVariant(values.variant);
    const folder = modelFolder(values.model, values["cache-dir"] ?? defaultModelCacheDir(env));
    const apiKey = env.RLEF_SERVE_API_KEY?.trim() || undefined;
    if (!LOOPBACK.has(values.host) && apiKey === undefined) {
      err(`rlef serve: warning: listening on ${values.host} without RLEF_SERVE_API_KEY; anyone who can reach it can use the model\n`);
    }
    const policy = await loadOnnxPolicy(folder, { variant, intraOpThreads: threads });
    const server = await startOpenAIServer({
      policy,
      modelId: values["served-model-name"],
      host: values.host,
      port,
      contextLength: maxModelLen ?? configuredContextLength(folder),
      apiKey,
      log: (line) => err(`${line}\n`),
    });
    out(`serving ${values["served-model-name"] ?? policy.name} at ${server.url}\n`);
    await untilStopped(io?.stop);
    await server.close();
    await policy.unload();
    return 0;
  } catch (error) {
    err(`rlef serve: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

function integerOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got "${value}"`);
  return n;
}

function modelFolder(model: string | undefined, cacheDir: string): string {
  if (model === undefined) {
    const selected = currentModel(cacheDir);
    if (!selected) throw new Error(`no model given and none selected; pass --model DIR or run 'rlef models download <repo> --select'`);
    return selected.path;
  }
  if (existsSync(model)) return model;
  if (/^[A-Za-z0-9][\w.-]*$/.test(model)) return findModel(cacheDir, model).path;
  throw new Error(`--model ${model}: no such folder`);
}

/** config.json's max_position_embeddings, the longest sequence the model takes. */
function configuredContextLength(folder: string): number | undefined {
  try {
    const config = JSON.parse(readFileSync(join(folder, "config.json"), "utf8")) as { max_position_embeddings?: unknown };
    return typeof config.max_position_embeddings === "number" ? config.max_position_embeddings : undefined;
  } catch {
    return undefined;
  }
}

function untilStopped(stop: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (stop) {
      if (stop.aborted) resolve();
      else stop.addEventListener("abort", () => resolve(), { once: true });
      return;
    }
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}
