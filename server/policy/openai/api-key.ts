// The API key of an OpenAI-compatible server: given by the caller (the editor reads it from
// its secret storage) or taken from RLEF_API_KEY, then OPENAI_API_KEY. It is a secret: every
// text this backend produces (errors, log lines) passes through `redactApiKey` first.

export function resolveApiKey(explicit: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const key = explicit ?? env.RLEF_API_KEY ?? env.OPENAI_API_KEY;
  return key === undefined || key.trim() === "" ? undefined : key.trim();
}

export function redactApiKey(text: string, apiKey: string | undefined): string {
  if (apiKey === undefined || apiKey.length === 0) return text;
  return text.split(apiKey).join("[REDACTED]");
}
