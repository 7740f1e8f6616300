// What went wrong talking to an OpenAI-compatible server, as one error type with a `kind` the
// agent loop can act on, and a message the user can act on. Servers describe errors
// differently; the shapes recognised here are:
//   OpenAI  {"error": {"message", "type", "param", "code": "context_length_exceeded" | "model_not_found" | ...}}
//   vLLM    {"object": "error", "message", "type": "BadRequestError", "param", "code": 400}  (older)
//           {"error": {"message", "type": "BadRequestError", "param", "code": 400}}         (newer)
//   Ollama  {"error": {"message", "type": "api_error" | "invalid_request_error", ...}} or {"error": "text"}
// Context overflow is recognised by OpenAI's code and by the wording vLLM and OpenAI use.

export type ServerErrorKind =
  | "unreachable"
  | "timeout"
  | "auth"
  | "model-not-found"
  | "context-overflow"
  | "rate-limited"
  | "bad-request"
  | "server"
  | "protocol";

export class PolicyServerError extends Error {
  constructor(
    readonly kind: ServerErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "PolicyServerError";
  }
}

/** HTTP statuses worth retrying when no token has reached the caller yet. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

const CONTEXT_OVERFLOW = [
  /maximum context length/i,
  /context length exceeded/i,
  /context_length_exceeded/i,
  /longer than the maximum model length/i,
  /reduce the length of the (messages|input|prompt)/i,
  /exceeds? (the )?(model'?s? )?(context|max(imum)?[ _]model[ _]len)/i,
];

/** The message and code an error body carries, whichever server shape it has. */
export function errorBodyDetail(bodyText: string): { message: string; code: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return { message: bodyText.trim().slice(0, 500), code: "" };
  }
  const body = parsed as Record<string, unknown> | null;
  const inner = typeof body?.error === "object" && body.error !== null ? (body.error as Record<string, unknown>) : body;
  if (typeof body?.error === "string") return { message: body.error, code: "" };
  const message = typeof inner?.message === "string" ? inner.message : typeof inner?.detail === "string" ? inner.detail : bodyText.trim().slice(0, 500);
  const code = typeof inner?.code === "string" ? inner.code : typeof inner?.type === "string" ? inner.type : "";
  return { message, code };
}

export function isContextOverflow(message: string, code: string): boolean {
  return code === "context_length_exceeded" || CONTEXT_OVERFLOW.some((pattern) => pattern.test(message));
}

export function httpError(status: number, bodyText: string, url: string, model: string): PolicyServerError {
  const { message, code } = errorBodyDetail(bodyText);
  const said = message === "" ? "" : `: ${message}`;
  if (status === 401 || status === 403) {
    return new PolicyServerError("auth", `${url} refused the request (HTTP ${status})${said}; check your API key (RLEF_API_KEY or OPENAI_API_KEY, or the key stored in the editor)`, status);
  }
  if (isContextOverflow(message, code)) {
    return new PolicyServerError("context-overflow", `the prompt does not fit the context window of ${model} at ${url}${said}`, status);
  }
  if (status === 404 || code === "model_not_found") {
    return new PolicyServerError("model-not-found", `model "${model}" not found at ${url} (HTTP ${status})${said}; check the model name the server lists at /v1/models`, status);
  }
  if (status === 429) return new PolicyServerError("rate-limited", `${url} is rate-limiting requests (HTTP 429)${said}`, status);
  if (status >= 500) return new PolicyServerError("server", `the server at ${url} failed (HTTP ${status})${said}`, status);
  return new PolicyServerError("bad-request", `${url} rejected the request (HTTP ${status})${said}`, status);
}
