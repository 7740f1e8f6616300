// JSON Schemas of every message a client may send (docs/env-protocol.md is the prose version). Every
// incoming message is validated against these before the service acts on it.

const requestId = { anyOf: [{ type: "string", maxLength: 200 }, { type: "integer" }] };
const id = { type: "string", minLength: 1, maxLength: 1000 };
const text = (maxLength: number) => ({ type: "string", maxLength });

const limits = {
  type: "object",
  required: ["timeMs", "memoryBytes"],
  properties: {
    // A client may not tie up a worker for more than 10 minutes per test, nor ask for more than 16 GiB.
    timeMs: { type: "integer", minimum: 1, maximum: 600_000 },
    memoryBytes: { type: "integer", minimum: 16 * 1024 ** 2, maximum: 16 * 1024 ** 3 },
  },
};
const language = { enum: ["python", "javascript", "typescript"] };
const flags = { type: "array", items: text(200), maxItems: 100 };
const stdioTest = {
  type: "object",
  required: ["input", "output"],
  properties: { input: { type: "string" }, output: { type: "string" } },
  additionalProperties: false,
};
const functionTestCase = {
  oneOf: [
    {
      type: "object",
      required: ["kind", "code"],
      properties: { kind: { enum: ["assert", "script"] }, code: { type: "string" } },
      additionalProperties: false,
    },
    {
      type: "object",
      required: ["kind", "argsJson"],
      properties: { kind: { const: "call" }, argsJson: { type: "string" }, expectedJson: { type: "string" } },
      additionalProperties: false,
    },
  ],
};
const stringMap = { type: "object", additionalProperties: { type: "string" }, maxProperties: 1000 };

// Fields the environment reads are checked; unknown extra fields are allowed so that a newer client's
// task records (with fields this server does not know) still load.
const stdioTask = {
  type: "object",
  required: ["kind", "id", "set", "language", "statement", "publicTests", "privateTests", "checker", "limits"],
  properties: {
    kind: { const: "stdio" },
    id,
    set: id,
    language,
    statement: { type: "string" },
    publicTests: { type: "array", items: stdioTest, maxItems: 10_000 },
    privateTests: { type: "array", items: stdioTest, maxItems: 10_000 },
    checker: {
      type: "object",
      required: ["mode"],
      properties: {
        mode: { enum: ["tokens", "exact", "lines"] },
        floatTolerance: { type: "number", minimum: 0 },
        caseInsensitive: { type: "boolean" },
      },
      additionalProperties: false,
    },
    limits,
    referenceSolution: { type: "string" },
    flags,
  },
};
const functionTask = {
  type: "object",
  required: ["kind", "id", "set", "language", "prompt", "entryPoint", "publicTests", "privateTests", "limits"],
  properties: {
    kind: { const: "function" },
    id,
    set: id,
    language,
    prompt: { type: "string" },
    entryPoint: { type: "string", pattern: "^[A-Za-z_$][\\w$]*(\\(\\))?(\\.[A-Za-z_$][\\w$]*)?$", maxLength: 200 },
    testPreamble: { type: "string" },
    candidatePrelude: { type: "string" },
    publicTests: { type: "array", items: functionTestCase, maxItems: 10_000 },
    privateTests: { type: "array", items: functionTestCase, maxItems: 10_000 },
    comparison: {
      type: "object",
      required: ["atol"],
      properties: { atol: { type: "number", minimum: 0 }, rule: { enum: ["set", "not-none", "find-zero"] } },
      additionalProperties: false,
    },
    limits,
    referenceSolution: { type: "string" },
    supportFiles: stringMap,
    testFiles: stringMap,
    solutionFile: text(1000),
    flags,
  },
};
const workspaceTask = {
  type: "object",
  required: ["kind", "id", "set", "language", "root", "target", "runner", "command", "limits"],
  properties: {
    kind: { const: "workspace" },
    id,
    set: { const: "workspace" },
    language,
    root: { type: "string", pattern: "^/", maxLength: 4096 },
    target: {
      type: "object",
      required: ["file"],
      properties: {
        file: text(4096),
        startLine: { type: "integer", minimum: 1 },
        endLine: { type: "integer", minimum: 1 },
        symbol: text(1000),
      },
      additionalProperties: false,
    },
    runner: { enum: ["pytest", "node-test", "jest", "vitest", "command"] },
    command: { type: "array", items: text(10_000), minItems: 1, maxItems: 1000 },
    readOnlyDirs: { type: "array", items: text(4096), maxItems: 100 },
    heldOutCommand: { type: "array", items: text(10_000), minItems: 1, maxItems: 1000 },
    limits,
    flags,
  },
};
/** An inline task of any kind, its workspace branch given (the session log relaxes its root). */
function taskWith(workspace: object) {
  return {
    type: "object",
    required: ["kind"],
    properties: { kind: { enum: ["stdio", "function", "workspace"] } },
    allOf: [
      { if: { properties: { kind: { const: "stdio" } } }, then: stdioTask },
      { if: { properties: { kind: { const: "function" } } }, then: functionTask },
      { if: { properties: { kind: { const: "workspace" } } }, then: workspace },
    ],
  };
}
const task = taskWith(workspaceTask);
/** The JSON Schema of an inline task (any kind); the session log's records use its parts too. */
export const TASK_SCHEMAS = { workspaceTask, task, taskWith } as const;

const taskReference = {
  type: "object",
  required: ["set", "id"],
  properties: { set: text(200), id },
  additionalProperties: false,
};

const tokenizer = {
  oneOf: [
    {
      type: "object",
      required: ["kind", "charsPerToken"],
      properties: { kind: { const: "chars-per-token" }, charsPerToken: { type: "number", exclusiveMinimum: 0, maximum: 1000 } },
      additionalProperties: false,
    },
  ],
};

const resetBody = {
  type: "object",
  required: ["task"],
  properties: {
    // An object with "kind" is an inline task, anything else must be a reference; errors then point into the right one.
    task: { type: "object", if: { required: ["kind"] }, then: task, else: taskReference },
    options: {
      type: "object",
      properties: {
        maxTurns: { type: "integer", minimum: 1, maximum: 100 },
        seed: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
        randomFeedback: { type: "boolean" },
        donorTasks: { type: "array", items: task, maxItems: 100_000 },
        contextLength: { type: "integer", minimum: 1, maximum: 100_000_000 },
        tokenizer,
        targetSource: { type: "string" },
      },
      additionalProperties: false,
      dependencies: { tokenizer: ["contextLength"] },
    },
  },
  additionalProperties: false,
};
const stepBody = {
  type: "object",
  required: ["episodeId", "response"],
  properties: { episodeId: id, response: { type: "string" } },
  additionalProperties: false,
};
const batchLimit = 4096;

function message(type: string, properties: Record<string, unknown> = {}, required: string[] = []) {
  return {
    type: "object",
    required: ["type", ...required],
    properties: { type: { const: type }, requestId, ...properties },
    additionalProperties: false,
  };
}

export const MESSAGE_SCHEMAS = {
  hello: message("hello", { protocolVersion: { type: "integer", minimum: 1 }, token: text(1000) }, ["protocolVersion"]),
  reset: message("reset", resetBody.properties, resetBody.required),
  step: message("step", stepBody.properties, stepBody.required),
  resetBatch: message("resetBatch", { items: { type: "array", items: resetBody, minItems: 1, maxItems: batchLimit } }, ["items"]),
  stepBatch: message("stepBatch", { items: { type: "array", items: stepBody, minItems: 1, maxItems: batchLimit } }, ["items"]),
  close: message("close", { episodeId: id }, ["episodeId"]),
  stats: message("stats"),
  listTasks: message("listTasks", { set: text(200) }, ["set"]),
} as const;

export type MessageType = keyof typeof MESSAGE_SCHEMAS;
export const MESSAGE_TYPES = Object.keys(MESSAGE_SCHEMAS) as MessageType[];
