// Every built-in set by name. Each family lives in its own file.
import type { BenchmarkSet } from "./set";
import { pythonFunctionSets } from "./python-sets";
import { stdioSets } from "./stdio-sets";
import { jsSets } from "./js-sets";

export const builtInSets: readonly BenchmarkSet[] = [...pythonFunctionSets, ...stdioSets, ...jsSets];

export function findSet(name: string): BenchmarkSet | undefined {
  return builtInSets.find((s) => s.name === name);
}
