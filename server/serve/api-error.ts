// Errors in the shape OpenAI's API returns them, so that every OpenAI client library shows the
// message and code to its user: {"error": {"message", "type", "param", "code"}}.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(400, message, "invalid_request_error", param, code);
}

export interface ApiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function apiErrorBody(error: ApiError): ApiErrorBody {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.code } };
}

/** Anything thrown inside a request that is not an ApiError is the server's fault: a 500. */
export function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError(500, `generation failed: ${message}`, "server_error");
}
