// Where models come from and where they go: the Hub endpoint and token (HF_ENDPOINT, HF_TOKEN,
// as huggingface_hub reads them) and the local cache folder. The token is a secret: it only
// ever travels in an Authorization header to the Hub's own host, never into logs or errors.
import { homedir } from "node:os";
import { join } from "node:path";

export const DEFAULT_HUB_ENDPOINT = "https://huggingface.co";

export interface HubSettings {
  endpoint: string;
  token?: string;
}

export function hubSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const endpoint = (env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, "");
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    throw new Error(`HF_ENDPOINT must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(`HF_ENDPOINT must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  }
  const token = env.HF_TOKEN?.trim();
  return token ? { endpoint, token } : { endpoint };
}

/** `$XDG_CACHE_HOME/rlef/models`, else `~/.cache/rlef/models`; the extension passes its own storage dir instead. */
export function defaultModelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== "" ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "rlef", "models");
}

/** Replaces every occurrence of the secret by a marker, for text that may reach a user or a log. */
export function redactSecret(text: string, secret: string | undefined): string {
  if (secret === undefined || secret === "") return text;
  return text.split(secret).join("[REDACTED]");
}
