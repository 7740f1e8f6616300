// How long to wait before retrying a request that is safe to repeat: exponential backoff with
// full jitter (AWS's "Exponential Backoff And Jitter"), or the server's Retry-After when it says.

export interface RetrySettings {
  /** Retries after the first attempt. Default 3. */
  maxRetries: number;
  /** Delay cap of the first retry; doubles each time. Default 500 ms. */
  baseDelayMs: number;
  /** No single wait is longer than this, Retry-After included. Default 20 s. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetrySettings = { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 20_000 };

export function retryDelayMs(attempt: number, settings: RetrySettings, retryAfter: string | null, random: () => number = Math.random): number {
  const fromServer = parseRetryAfter(retryAfter);
  if (fromServer !== undefined) return Math.min(fromServer, settings.maxDelayMs);
  const cap = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * cap);
}

/** Retry-After is either delay-seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
