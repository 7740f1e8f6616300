// `rlef models download|list|select|remove`: the model manager on the command line.
// Endpoint and token come from HF_ENDPOINT and HF_TOKEN; the token is never printed.
import { parseArgs } from "node:util";
import { downloadModel } from "../../models/download-model";
import { defaultModelCacheDir, hubSettingsFromEnv, redactSecret } from "../../models/hub-settings";
import { listModels, removeModel, selectModel } from "../../models/model-cache";
import { parseVariant } from "../../models/model-files";

const USAGE = `usage:
  rlef models download <owner/name> [--revision R] [--variant fp32|fp16|quantized|q4] [--select]
  rlef models list
  rlef models select <name>
  rlef models remove <name>
options:
  --cache-dir DIR   where models live (default: $XDG_CACHE_HOME/rlef/models)
environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (private or gated repositories)
`;

export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const processIO: CommandIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

export async function modelsCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        revision: { type: "string" },
        variant: { type: "string" },
        "cache-dir": { type: "string" },
        select: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    io.stderr(`rlef models: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const [action, target, ...extra] = positionals;
  const cacheDir = values["cache-dir"] ?? defaultModelCacheDir(io.env);
  const needsTarget = action === "download" || action === "select" || action === "remove";
  if (action === undefined || (needsTarget && (target === undefined || extra.length > 0)) || (action === "list" && target !== undefined)) {
    io.stderr(USAGE);
    return 2;
  }
  const token = io.env.HF_TOKEN;
  try {
    switch (action) {
      case "download": {
        const hub = hubSettingsFromEnv(io.env);
        let lastPercent = -1;
        const model = await downloadModel({
          repo: target as string,
          revision: values.revision,
          variant: values.variant === undefined ? undefined : parseVariant(values.variant),
          cacheDir,
          hub,
          onProgress: (p) => {
            const percent = p.bytesTotal === 0 ? 100 : Math.floor((100 * p.bytesDone) / p.bytesTotal);
            if (percent !== lastPercent) {
              lastPercent = percent;
              io.stderr(`\r${percent}% ${p.file}`.padEnd(60));
            }
          },
        });
        io.stderr("\n");
        if (values.select) selectModel(cacheDir, model.name);
        io.stdout(`${model.name}\t${model.path}\n`);
        return 0;
      }
      case "list": {
        for (const m of listModels(cacheDir)) {
          const marker = m.current ? "*" : " ";
          io.stdout(`${marker} ${m.name}\t${m.manifest.repo}@${m.manifest.commit.slice(0, 10)}\t${m.manifest.variant}\t${formatBytes(m.sizeBytes)}\n`);
        }
        return 0;
      }
      case "select":
        io.stdout(`${selectModel(cacheDir, target as string).path}\n`);
        return 0;
      case "remove":
        removeModel(cacheDir, target as string);
        return 0;
      default:
        io.stderr(`rlef models: unknown action '${action}'\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    io.stderr(`rlef models ${action}: ${redactSecret(error instanceof Error ? error.message : String(error), token)}\n`);
    return 1;
  }
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
