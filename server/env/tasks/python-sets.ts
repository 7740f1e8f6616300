// Python function-level sets: humaneval, humaneval_plus, mbpp, mbpp_plus, leetcode, apps (call-based part).
import type { BenchmarkSet } from "./set";

export const pythonFunctionSets: BenchmarkSet[] = [];
