// The server's settings: one typed object, validated once when it arrives from the client
// (initializationOptions or workspace/didChangeConfiguration), with the defaults users see in the manifest.
import { isAbsolute } from "node:path";
import type { JudgeMode } from "../env/types";

export type PolicyBackend = "demo" | "onnx" | "endpoint";
export type SandboxModeSetting = "auto" | "bwrap" | "unisolated";

export interface ServerSettings {
  policy: { backend: PolicyBackend; modelPath: string; threads: number; idleUnloadSeconds: number };
  endpoint: { url: string; model: string };
  agent: { attempts: number; temperature: number; topP: number; maxTokens: number };
  tests: { timeoutSeconds: number; command: string[]; pythonInterpreter: string };
  sandbox: { mode: SandboxModeSetting };
  judge: { mode: JudgeMode };
  solve: { solutionExtension: string };
  /** The opt-in session log (server/session-log): off unless the user turns it on; folder "" is the default one. */
  sessionLog: { enabled: boolean; folder: string };
}

export const DEFAULT_SETTINGS: ServerSettings = {
  policy: { backend: "demo", modelPath: "", threads: 0, idleUnloadSeconds: 300 },
  endpoint: { url: "http://127.0.0.1:8000/v1", model: "" },
  agent: { attempts: 3, temperature: 0.2, topP: 0.95, maxTokens: 1024 },
  tests: { timeoutSeconds: 10, command: [], pythonInterpreter: "python3" },
  sandbox: { mode: "auto" },
  judge: { mode: "tokens" },
  solve: { solutionExtension: ".py" },
  sessionLog: { enabled: false, folder: "" },
};

export class SettingsError extends Error {}

type Path = string;

function pick<T>(value: unknown, path: Path, fallback: T, check: (v: unknown) => v is T, expected: string): T {
  if (value === undefined || value === null) return fallback;
  if (!check(value)) throw new SettingsError(`setting rlef.${path} must be ${expected}, got ${JSON.stringify(value)}`);
  return value;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const oneOf =
  <T extends string>(...values: T[]) =>
  (v: unknown): v is T =>
    typeof v === "string" && (values as string[]).includes(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

function section(raw: unknown, key: string): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null) return {};
  const value = (raw as Record<string, unknown>)[key];
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

function inRange(value: number, path: Path, min: number, max: number): number {
  if (value < min || value > max) throw new SettingsError(`setting rlef.${path} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function absoluteOrEmpty(value: string, path: Path): string {
  const v = value.trim();
  if (v === "" || isAbsolute(v) || v === "~" || v.startsWith("~/")) return v;
  throw new SettingsError(`setting rlef.${path} must be an absolute folder path (or empty for the default), got ${JSON.stringify(value)}`);
}

/** Reads the `rlef` settings object as VS Code sends it (nested sections); unknown keys are ignored. */
export function parseSettings(raw: unknown): ServerSettings {
  const d = DEFAULT_SETTINGS;
  const policy = section(raw, "policy");
  const endpoint = section(raw, "endpoint");
  const agent = section(raw, "agent");
  const tests = section(raw, "tests");
  const sandbox = section(raw, "sandbox");
  const judge = section(raw, "judge");
  const solve = section(raw, "solve");
  const sessionLog = section(raw, "sessionLog");
  const command = tests.command;
  return {
    policy: {
      backend: pick(policy.backend, "policy.backend", d.policy.backend, oneOf("demo", "onnx", "endpoint"), '"demo", "onnx" or "endpoint"'),
      modelPath: pick(policy.modelPath, "policy.modelPath", d.policy.modelPath, isString, "a path"),
      threads: inRange(pick(policy.threads, "policy.threads", d.policy.threads, isNumber, "a number"), "policy.threads", 0, 256),
      idleUnloadSeconds: inRange(pick(policy.idleUnloadSeconds, "policy.idleUnloadSeconds", d.policy.idleUnloadSeconds, isNumber, "a number"), "policy.idleUnloadSeconds", 0, 86_400),
    },
    endpoint: {
      url: pick(endpoint.url, "endpoint.url", d.endpoint.url, isString, "a URL"),
      model: pick(endpoint.model, "endpoint.model", d.endpoint.model, isString, "a model id"),
    },
    agent: {
      attempts: inRange(pick(agent.attempts, "agent.attempts", d.agent.attempts, isNumber, "a number"), "agent.attempts", 1, 20),
      temperature: inRange(pick(agent.temperature, "agent.temperature", d.agent.temperature, isNumber, "a number"), "agent.temperature", 0, 2),
      topP: inRange(pick(agent.topP, "agent.topP", d.agent.topP, isNumber, "a number"), "agent.topP", 0.01, 1),
      maxTokens: inRange(pick(agent.maxTokens, "agent.maxTokens", d.agent.maxTokens, isNumber, "a number"), "agent.maxTokens", 16, 32_768),
    },
    tests: {
      timeoutSeconds: inRange(pick(tests.timeoutSeconds, "tests.timeoutSeconds", d.tests.timeoutSeconds, isNumber, "a number"), "tests.timeoutSeconds", 1, 3600),
      command:
        typeof command === "string"
          ? command.trim() === ""
            ? []
            : command.trim().split(/\s+/)
          : pick(command, "tests.command", d.tests.command, isStringArray, "a command line or a list of arguments"),
      pythonInterpreter: pick(tests.pythonInterpreter, "tests.pythonInterpreter", d.tests.pythonInterpreter, isString, "a command or path"),
    },
    sandbox: { mode: pick(sandbox.mode, "sandbox.mode", d.sandbox.mode, oneOf("auto", "bwrap", "unisolated"), '"auto", "bwrap" or "unisolated"') },
    judge: { mode: pick(judge.mode, "judge.mode", d.judge.mode, oneOf("tokens", "exact", "lines"), '"tokens", "exact" or "lines"') },
    solve: { solutionExtension: pick(solve.solutionExtension, "solve.solutionExtension", d.solve.solutionExtension, isString, 'an extension such as ".py"') },
    sessionLog: {
      enabled: pick(sessionLog.enabled, "sessionLog.enabled", d.sessionLog.enabled, isBoolean, "true or false"),
      folder: absoluteOrEmpty(pick(sessionLog.folder, "sessionLog.folder", d.sessionLog.folder, isString, "a folder path"), "sessionLog.folder"),
    },
  };
}
