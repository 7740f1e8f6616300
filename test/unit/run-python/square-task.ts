// The function-level task both harness test files run: `square(x)` with the tests a case needs.
import type { FunctionTask, FunctionTestCase } from "../../../server/env/types";

export function squareTask(publicTests: FunctionTestCase[], privateTests: FunctionTestCase[] = [], extra: Partial<FunctionTask> = {}): FunctionTask {
  return {
    kind: "function",
    id: "test/square",
    set: "test",
    language: "python",
    prompt: "def square(x):\n",
    entryPoint: "square",
    publicTests,
    privateTests,
    limits: { timeMs: 1500, memoryBytes: 256 * 1024 ** 2 },
    ...extra,
  };
}
